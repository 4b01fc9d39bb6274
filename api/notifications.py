"""The in-app inbox (通知)."""

from __future__ import annotations

from flask.views import MethodView
from api.parsing import DubanBlueprint

from api.auth import current_actor, engine
from api.schemas import NotificationListArgs, NotificationPageSchema, NotificationSchema
from engine.notifications import outbox

blp = DubanBlueprint("notifications", __name__, url_prefix="/api/v1/notifications", description="通知")


@blp.route("")
class NotificationsView(MethodView):
    """My notifications."""

    @blp.arguments(NotificationListArgs(), location="query")
    @blp.response(200, NotificationPageSchema)
    def get(self, args: dict):  # type: ignore[no-untyped-def, type-arg]
        """List my notifications, newest first (``unread=true``: unread only), with my unread count."""
        return outbox.list_inbox(engine(), current_actor(), args["unread"], args["page"], args["per_page"])


@blp.route("/<id:notification_id>/read")
class ReadView(MethodView):
    """Mark read."""

    @blp.response(200, NotificationSchema)
    def post(self, notification_id: int):  # type: ignore[no-untyped-def]
        """Mark one of my notifications read."""
        return outbox.read_notification(engine(), current_actor(), notification_id)
