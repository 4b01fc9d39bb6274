"""One JSON error format for every failure: ``{"code", "message", "errors": {field: [...]}}``."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from flask_smorest import Api
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from engine.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, ProcessError

log = logging.getLogger(__name__)

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_attempts",
    431: "headers_too_large",
    500: "internal_error",
}
DOMAIN_STATUS = {NotFound: 404, Forbidden: 403, Conflict: 409, InvalidInput: 422, ProcessError: 500}
DEFAULT_MESSAGES = {
    400: "请求格式错误",
    401: "未登录或登录已过期",
    403: "无权执行此操作",
    404: "资源不存在",
    405: "不支持的请求方法",
    409: "状态冲突",
    413: "请求体过大",
    414: "请求地址过长",
    415: "不支持的文件类型",
    422: "输入校验未通过",
    429: "尝试次数过多，请稍后再试",
    431: "请求头过大",
    500: "服务器内部错误",
}


def error_body(status: int, message: str | None = None,
               errors: dict[str, Any] | None = None) -> dict[str, Any]:
    """The body of an error response."""
    return {
        "code": STATUS_CODES.get(status, "error"),
        "message": message or DEFAULT_MESSAGES.get(status, "请求失败"),
        "errors": errors or {},
    }


def _flatten_locations(messages: Any) -> dict[str, list[str]]:
    """webargs nests errors under their location (json, query): lift the fields out."""
    flat: dict[str, list[str]] = {}
    if not isinstance(messages, dict):
        return {"_request": [str(messages)]}
    for location, named in messages.items():
        if isinstance(named, dict):
            for name, value in _flatten_fields(named).items():
                flat[name] = value
        else:
            flat["_request" if location in ("json", "query") else location] = [
                str(v) for v in (named if isinstance(named, list) else [named])
            ]
    return flat


def _flatten_fields(fields: dict[Any, Any], prefix: str = "") -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}
    for name, value in fields.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(_flatten_fields(value, prefix=f"{key}."))
        else:
            flat[key] = [str(v) for v in (value if isinstance(value, list) else [value])]
    return flat


class ErrorSchema(Schema):
    """Every error the API answers (the OpenAPI document's error responses)."""

    code = fields.String(required=True, metadata={
        "description": "bad_request, unauthorized, forbidden, not_found, conflict, payload_too_large, "
                       "validation_error, …"})
    message = fields.String(required=True, metadata={"description": "说明（中文）"})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True,
                         metadata={"description": "field name → messages; empty when no field is at fault"})


class DubanApi(Api):
    """flask-smorest's Api, answering errors in duban's format."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException):  # type: ignore[no-untyped-def]
        """Render an HTTP error (including webargs validation errors) in duban's format."""
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        errors = data.get("errors")
        if errors is None and "messages" in data:
            errors = _flatten_locations(data["messages"])
        message = data.get("message")
        if status == 400 and errors and "_request" in errors:
            message = message or "请求体不是合法的 JSON"
        body = error_body(status, message, errors)
        response = jsonify(body)
        response.status_code = status
        for name, value in error.get_headers():
            if name.lower() not in ("content-type", "content-length"):
                response.headers[name] = value  # Allow on a 405, and the like
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
        if status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response


def register_error_handlers(app: Flask) -> None:
    """Map domain errors and unexpected failures to JSON responses."""

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError):  # type: ignore[no-untyped-def]
        status = next((s for cls, s in DOMAIN_STATUS.items() if isinstance(error, cls)), 400)
        if status == 500:
            log.error("process error: %s", error.message)
        response = jsonify(error_body(status, error.message, error.errors))
        response.status_code = status
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):  # type: ignore[no-untyped-def]
        if isinstance(error, HTTPException):
            response = jsonify(error_body(error.code or 500, error.description))
            response.status_code = error.code or 500
            return response
        log.exception("unhandled error")
        response = jsonify(error_body(500))
        response.status_code = 500
        return response
