"""Swagger UI's assets, served from the installed package so the docs page works offline."""

from __future__ import annotations

import swagger_ui_bundle
from flask import Blueprint, send_from_directory

STATIC_URL = "/api/v1/docs/static/"

blp = Blueprint("docs_static", __name__)


@blp.get(f"{STATIC_URL}<path:filename>")
def swagger_asset(filename: str):  # type: ignore[no-untyped-def]
    """Serve one Swagger UI file."""
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)
