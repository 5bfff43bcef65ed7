"""The one place where exceptions become HTTP answers: a status code and {code, message}.

Handlers never choose a status themselves; they raise our errors (or let tornado's and
pydantic's through) and this table decides. More specific classes are listed first; the
first entry in an exception's MRO wins.

Bad input is always a 4xx. A sidecar the store cannot use (locked, damaged, unreadable) is
a 503: the request was fine, the storage is not. Every message is one printable line of
bounded length, whatever the client sent (messages quote paths and field names).
"""

from __future__ import annotations

import re

from pydantic import ValidationError
from tornado import web

from ..errors import (
    InvalidInput,
    MirrorNeuronError,
    NotAwaitingApproval,
    NotFound,
    PathOutsideRoot,
    SchemaTooNew,
    SidecarDamaged,
    SidecarError,
    SidecarFull,
    SidecarLocked,
    UnknownStep,
    UnsafeSidecar,
)
from .api_models import ErrorBody

STATUS: dict[type[BaseException], tuple[int, str]] = {
    PathOutsideRoot: (400, "path_outside_root"),
    UnsafeSidecar: (400, "unsafe_sidecar"),
    NotAwaitingApproval: (409, "not_awaiting_approval"),
    UnknownStep: (404, "unknown_step"),
    InvalidInput: (400, "invalid_input"),
    NotFound: (404, "not_found"),
    SchemaTooNew: (409, "schema_too_new"),
    SidecarLocked: (503, "sidecar_locked"),
    SidecarDamaged: (503, "sidecar_damaged"),
    SidecarFull: (507, "sidecar_full"),
    # Any other storage failure (damaged, unreadable, vanished database): the store's
    # subclasses of SidecarError land here unless listed above.
    SidecarError: (503, "sidecar_unreadable"),
    MirrorNeuronError: (500, "error"),
}

# Seconds a client should wait before retrying a locked sidecar.
RETRY_AFTER = 2
# Codes whose 503 goes away by itself, so the answer carries Retry-After.
RETRYABLE = frozenset({"sidecar_locked"})

MAX_MESSAGE_CHARS = 300
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def translate(exc: BaseException) -> tuple[int, ErrorBody]:
    """(HTTP status, body) for any exception a request raised."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            status, code = STATUS[cls]
            return status, error_body(code, str(exc))
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "request"
        return 400, error_body("invalid_input", f"{where}: {first['msg']}")
    if isinstance(exc, web.HTTPError):
        return exc.status_code, http_status_body(exc.status_code, _log_message(exc))
    # Unexpected: the caller logs the traceback; the client gets one readable line.
    return 500, error_body("internal_error", f"internal error ({type(exc).__name__})")


def _log_message(exc: web.HTTPError) -> str | None:
    """tornado's message with its %-arguments filled in (e.g. "Invalid unicode in ...")."""
    if exc.log_message and exc.args:
        try:
            return exc.log_message % exc.args
        except (TypeError, ValueError):
            return exc.log_message
    return exc.log_message


def error_body(code: str, message: str) -> ErrorBody:
    """The body, its message made one printable line of at most MAX_MESSAGE_CHARS."""
    line = _UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], message.strip()) or code
    if len(line) > MAX_MESSAGE_CHARS:
        line = line[: MAX_MESSAGE_CHARS - 1] + "…"
    return ErrorBody(code=code, message=line)


def http_status_body(status: int, detail: str | None = None) -> ErrorBody:
    """Errors raised by the server machinery itself (auth, XSRF, unknown method)."""
    codes = {
        400: "bad_request",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        413: "body_too_large",
        414: "uri_too_long",
    }
    message = detail or {
        403: "forbidden: this request needs Jupyter's authentication (token or login)",
    }.get(status, f"HTTP {status}")
    return error_body(codes.get(status, f"http_{status}"), message)
