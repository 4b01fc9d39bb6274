"""The web UI: one HTML shell for every page of the single-page app, and its security headers.

The pages themselves are plain JavaScript modules under ``api/static`` (Flask's static folder),
talking to ``/api/v1`` with the httpOnly session cookie. The shell passes what the script needs
at start — demo users (demo mode only), the supervision modes, the working-day calendar around
today and the server's clock — in a JSON block that the Content-Security-Policy lets through
because it is never executed.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, render_template

from engine.engine import Engine
from processes.org import demo_users

blp = Blueprint("web", __name__)

SHELL_ROUTES = ("/", "/login", "/worklist", "/tasks/<task_id>", "/cases/new", "/cases/<int:case_id>",
                "/inbox", "/overview")
# The demo users the login page offers with one click (the rest sign in by name).
DEMO_SHOWN = ("dispatcher", "supervisor", "econ_it", "econ_it_leader", "hongshan", "hongshan_leader",
              "optoelectronics_leader")
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
# Working days are counted in the browser over this window around today (beyond it: weekdays).
CALENDAR_DAYS_BEFORE, CALENDAR_DAYS_AFTER = 31, 400


def _engine() -> Engine:
    return current_app.extensions["duban_engine"]


def shell(**_: Any) -> Response:
    """Serve the single-page app's HTML shell; the script routes by the path."""
    response = Response(render_template("index.html", boot=_boot(_engine())), mimetype="text/html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


for _number, _rule in enumerate(SHELL_ROUTES):
    blp.add_url_rule(_rule, endpoint="shell" if _number == 0 else f"shell_{_number}", view_func=shell)


@blp.after_app_request
def _no_sniffing(response: Response) -> Response:
    """Make browsers trust the declared content types (the shell, scripts and the API alike)."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def _boot(engine: Engine) -> dict[str, Any]:
    """What the page's script needs before its first request."""
    now = engine.clock.now()
    boot: dict[str, Any] = {
        "now": now.isoformat(),
        "timezone": engine.settings.timezone,
        "closing_time": engine.settings.closing_time,
        "modes": [
            {
                "name": mode.name,
                "label": mode.label,
                "creator_roles": sorted(mode.creator_roles),
                "needs_lead_department": mode.needs_lead_department,
                "deadline_working_days": mode.defaults.get("deadline_working_days"),
            }
            for mode in engine.catalogue.modes.values()
        ],
        "calendar": _calendar(engine, engine.calendar.local_date(now)),
    }
    if not engine.settings.production:
        shown = {user.username: user for user in demo_users()}
        boot["demo_users"] = [
            {"username": name, "display_name": shown[name].display_name}
            for name in DEMO_SHOWN if name in shown
        ]
    return boot


def _calendar(engine: Engine, today: date) -> dict[str, Any]:
    """The exceptions to 'Monday to Friday' around today: weekdays off and weekend workdays."""

    def exceptions() -> dict[str, Any]:
        first = today - timedelta(days=CALENDAR_DAYS_BEFORE)
        days = [first + timedelta(days=n) for n in range(CALENDAR_DAYS_BEFORE + CALENDAR_DAYS_AFTER + 1)]
        return {
            "first": first.isoformat(),
            "last": days[-1].isoformat(),
            "days_off": [d.isoformat() for d in days if d.weekday() < 5 and not engine.calendar.is_working_day(d)],
            "workdays": [d.isoformat() for d in days if d.weekday() >= 5 and engine.calendar.is_working_day(d)],
        }

    return engine.caches.remember(engine.caches.calendar_pages, today, exceptions)
