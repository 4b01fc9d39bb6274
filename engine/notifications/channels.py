"""Delivery channels: email over SMTP and webhooks signed with HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from typing import Protocol

from engine.storage.records import DeliveryRecord
from engine.settings import Settings

SIGNATURE_HEADER = "X-Duban-Signature"
DELIVERY_HEADER = "X-Duban-Delivery"


class Channel(Protocol):
    """Sends one delivery; raises on any failure."""

    def send(self, delivery: DeliveryRecord) -> None: ...


def sign(secret: str, body: bytes) -> str:
    """The signature header value of a webhook body: ``sha256=<hex HMAC>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class SmtpChannel:
    """Email through the configured SMTP server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, delivery: DeliveryRecord) -> None:
        """Send the delivery as a UTF-8 email."""
        message = EmailMessage()
        message["From"] = self.settings.smtp_from
        message["To"] = delivery.target
        message["Subject"] = delivery.subject
        message["Message-ID"] = f"<{delivery.dedupe_key.replace(':', '.')}@duban>"
        message.set_content(delivery.payload)
        with smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port,
                          timeout=self.settings.delivery_timeout_seconds) as smtp:
            if self.settings.smtp_starttls:
                smtp.starttls()
            if self.settings.smtp_user:
                smtp.login(self.settings.smtp_user, self.settings.smtp_password)
            smtp.send_message(message)


class WebhookChannel:
    """An HTTP POST of the event's JSON, signed so the receiver can trust it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, delivery: DeliveryRecord) -> None:
        """POST the payload; anything but a 2xx answer is a failure."""
        body = delivery.payload.encode("utf-8")
        request = urllib.request.Request(delivery.target, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: sign(self.settings.webhook_secret, body),
            DELIVERY_HEADER: delivery.dedupe_key,
            "User-Agent": "duban-webhook/1",
        })
        try:
            with urllib.request.urlopen(request, timeout=self.settings.delivery_timeout_seconds) as response:
                if not 200 <= response.status < 300:
                    raise RuntimeError(f"webhook answered {response.status}")
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"webhook answered {exc.code}") from exc


def default_channels(settings: Settings) -> dict[str, Channel]:
    """The channels the settings configure."""
    return {"email": SmtpChannel(settings), "webhook": WebhookChannel(settings)}
