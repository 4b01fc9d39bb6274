"""How requests are read: JSON bodies through orjson, and one rule for every piece of text.

The rule for text, applied here to every string a request carries (JSON bodies at any depth, keys
included, and query strings) before any schema sees it: Unicode without surrogates and without
control characters, except tab and line feed; a carriage return before a line feed (Windows line
ends) is read as the line feed alone. A request that breaks it is refused with 422 naming the
field, and nothing changes. (PostgreSQL cannot store NUL at all; the other control characters are
never typed by a person and break exports, notifications and screens.)

JSON is parsed by orjson, as the app's JSON provider does: it refuses lone surrogates and nesting
deeper than 1,024 levels with a decode error, which is answered 400 like any malformed body.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

import orjson
from flask import Request, current_app, request
from flask_smorest import Blueprint
from flask_smorest import abort as abort_request
from marshmallow import Schema, fields, missing
from webargs.flaskparser import FlaskParser, abort, is_json_request
from werkzeug.routing import IntegerConverter, Map

# C0 controls but tab and line feed, DEL, C1 controls, and surrogates (they can reach a str
# through the standard library's JSON or a query string, never through orjson).
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
MESSAGE = "不能包含控制字符或无效字符（换行和制表符除外）"


def clean_text(value: str) -> str | None:
    """The text as duban keeps it (Windows line ends read as line feeds), or None if it breaks
    the rule."""
    if "\r\n" in value:
        value = value.replace("\r\n", "\n")
    return None if _FORBIDDEN.search(value) else value


def clean_tree(value: Any, path: str, problems: dict[str, list[str]]) -> Any:
    """A parsed JSON value with every string cleaned; each string that breaks the rule is noted
    under its field path (``data.result``, ``co_departments.0``)."""
    if isinstance(value, str):
        cleaned = clean_text(value)
        if cleaned is None:
            problems[path or "_request"] = [MESSAGE]
            return value
        return cleaned
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if clean_text(key) is None:
                problems[where] = [MESSAGE]
            result[key] = clean_tree(item, where, problems)
        return result
    if isinstance(value, list):
        return [clean_tree(item, f"{path}.{i}" if path else str(i), problems) for i, item in enumerate(value)]
    return value


# The rule as the OpenAPI document states it for every string field (a regular expression over the
# text as sent: a CR is allowed only before an LF).
TEXT_PATTERN = "^(?:[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f\\r]|\\r\\n)*$"


def text_pattern(converter: Any, field: fields.Field, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """An apispec attribute function: every plain string field documents the text rule."""
    if ret.get("type") == "string" and "format" not in ret and "pattern" not in ret and "enum" not in ret:
        return {"pattern": TEXT_PATTERN}
    return {}


class DubanParser(FlaskParser):
    """webargs' Flask parser with orjson and the text rule."""

    def _handle_invalid_json_error(self, error: Any, req: Request, *args: Any, **kwargs: Any) -> NoReturn:
        abort(400, exc=error, messages={"json": ["请求体不是合法的 JSON（须为 UTF-8 编码）"]})

    def _raw_load_json(self, req: Request) -> Any:
        if not is_json_request(req):
            return missing
        raw = req.get_data(cache=True)
        if not raw:
            return missing
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:  # also bytes that are not UTF-8 (webargs would read them as empty)
            self._handle_invalid_json_error(exc, req)
        problems: dict[str, list[str]] = {}
        data = clean_tree(data, "", problems)
        if problems:
            abort(422, messages={"json": problems})
        return data

    def load_querystring(self, req: Request, schema: Schema) -> Any:
        problems = {name: [MESSAGE] for name, value in req.args.items(multi=True) if clean_text(value) is None}
        if problems:
            abort(422, messages={"query": problems})
        return super().load_querystring(req, schema)


class DubanBlueprint(Blueprint):
    """A flask-smorest blueprint whose arguments are read by ``DubanParser``."""

    ARGUMENTS_PARSER = DubanParser()


# Database ids are 64-bit: 1 to 2^63 - 1. A path id outside that matches no route (404); a query
# id outside it is a 422 naming the field.
MAX_ID = 2**63 - 1


class IdConverter(IntegerConverter):
    """``<id:name>`` in a route: a database id (1 to 2^63 - 1)."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(url_map, *args, min=1, max=MAX_ID, **kwargs)


def id_parameter_schema(_converter: IdConverter) -> dict[str, Any]:
    """How an ``<id:…>`` path parameter reads in the OpenAPI document."""
    return {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}


def limit_request_body() -> None:
    """Refuse a body over the limit at once, before reading any of it (413 payload_too_large).

    The limit is ``DUBAN_MAX_REQUEST_KB`` unless the view declares its own (``max_body_bytes``: an
    upload endpoint). A body without a declared length is cut off at the limit while it is read.
    """
    view_class = getattr(current_app.view_functions.get(request.endpoint or ""), "view_class", None)
    limit = getattr(view_class, "max_body_bytes", None) or current_app.config["MAX_CONTENT_LENGTH"]
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        abort_request(413, message=f"请求体超过上限（{limit // 1024} KB）")


def links(status: int, targets: dict[str, tuple[str, str, dict[str, str]]]) -> dict[str, Any]:
    """OpenAPI links of a response, for ``blp.doc``: name → (path, method, {parameter: expression}).
    They tell a client (and a fuzzer's stateful phase) where a response's ids lead."""
    def ref(path: str, method: str) -> str:
        return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method

    return {"responses": {str(status): {"links": {
        name: {"operationRef": ref(path, method), "parameters": parameters}
        for name, (path, method, parameters) in targets.items()}}}}
