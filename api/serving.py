"""How gunicorn serves duban: its access log line, refusals in JSON, bodies over the limit never
read to the end, and one CPU per HTTP worker (``duban serve``)."""

from __future__ import annotations

import os
import ssl
from http import HTTPStatus
from typing import Any, Callable

import orjson
from gunicorn import util as gunicorn_util
from gunicorn.http import errors as gunicorn_errors
from gunicorn.workers import gthread

from engine.caches import tune_garbage_collector


def pin_to_one_cpu(worker_number: int) -> int | None:
    """Keep this process (and the threads it starts) on one of the CPUs it may use: the n-th
    worker on the n-th CPU, round robin. The CPU chosen, or None where there is nothing to choose."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None
    cpu = allowed[(worker_number - 1) % len(allowed)]
    os.sched_setaffinity(0, {cpu})
    return cpu


class ThreadWorker(gthread.ThreadWorker):  # type: ignore[misc]
    """gunicorn's threaded worker, answering the requests it refuses itself (a request line or
    headers over the limits, a malformed request) in duban's JSON error format instead of HTML."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        status, code, message = _refusal(exc)
        if status == 500:
            self.log.exception("Error handling request %s", getattr(req, "uri", "(no URI read)"))
        else:
            self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        body = orjson.dumps({"code": code, "message": message, "errors": {}})
        head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nConnection: close\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        try:
            gunicorn_util.write_nonblock(client, head.encode("latin-1") + body)
        except Exception:
            self.log.debug("Failed to send error message.")


def _refusal(exc: BaseException) -> tuple[int, str, str]:
    """The status, code and message gunicorn's refusal of a request answers."""
    if isinstance(exc, gunicorn_errors.LimitRequestLine):
        return 414, "uri_too_long", "请求地址过长"
    if isinstance(exc, gunicorn_errors.LimitRequestHeaders):
        return 431, "headers_too_large", "请求头过大或过多"
    if isinstance(exc, gunicorn_errors.ParseException) or isinstance(exc, ssl.SSLError):
        return 400, "bad_request", "请求格式错误"
    return 500, "internal_error", "服务器内部错误"


def close_after_large_bodies(limit_bytes: int) -> Callable[[Any, Any], None]:
    """A ``pre_request`` hook: a request whose body may be over the limit (declared larger, or of no
    declared length) closes its connection after the answer, so a refused body is never read to its
    end to keep the connection alive."""

    def pre_request(worker: Any, req: Any) -> None:
        length = next((value for name, value in req.headers if name == "CONTENT-LENGTH"), None)
        chunked = any(name == "TRANSFER-ENCODING" for name, _ in req.headers)
        if chunked or (length is not None and (not length.isdigit() or int(length) > limit_bytes)):
            req.must_close = True

    return pre_request


def worker_ready(worker: Any = None) -> None:
    """A ``post_worker_init`` hook: the worker has loaded the app; tune its garbage collector."""
    tune_garbage_collector()


def gunicorn_settings(max_request_bytes: int, gc_tuning: bool = True) -> dict[str, Any]:
    """The gunicorn settings every duban server runs with (``duban serve`` and
    ``gunicorn -c python:api.gunicorn_config``)."""
    return ({"post_worker_init": worker_ready} if gc_tuning else {}) | {
        "worker_class": "api.serving.ThreadWorker",
        "accesslog": "-",
        # One line a request: client, time, request line, status, bytes sent, milliseconds taken.
        "access_log_format": '%(h)s %(t)s "%(r)s" %(s)s %(B)s %(M)sms',
        # gunicorn's own limits, stated: a request line, the number of headers, one header's size.
        "limit_request_line": 4094,
        "limit_request_fields": 100,
        "limit_request_field_size": 8190,
        "pre_request": close_after_large_bodies(max_request_bytes),
    }
