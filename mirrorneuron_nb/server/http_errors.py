"""The one place where exceptions become HTTP answers: a status code and {code, message}.

Handlers never choose a status themselves; they raise our errors (or let tornado's and
pydantic's through) and this table decides. More specific classes are listed first; the
first entry in an exception's MRO wins.
"""

from __future__ import annotations

from pydantic import ValidationError
from tornado import web

from ..errors import (
    InvalidInput,
    MirrorNeuronError,
    NotAwaitingApproval,
    NotFound,
    PathOutsideRoot,
    SchemaTooNew,
    SidecarError,
    SidecarLocked,
    UnknownStep,
)
from .api_models import ErrorBody

STATUS: dict[type[BaseException], tuple[int, str]] = {
    PathOutsideRoot: (400, "path_outside_root"),
    NotAwaitingApproval: (409, "not_awaiting_approval"),
    UnknownStep: (404, "unknown_step"),
    InvalidInput: (400, "invalid_input"),
    NotFound: (404, "not_found"),
    SchemaTooNew: (409, "schema_too_new"),
    SidecarLocked: (503, "sidecar_locked"),
    SidecarError: (500, "sidecar_unreadable"),
    MirrorNeuronError: (500, "error"),
}

# Seconds a client should wait before retrying a locked sidecar.
RETRY_AFTER = 2


def translate(exc: BaseException) -> tuple[int, ErrorBody]:
    """(HTTP status, body) for any exception a request raised."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            status, code = STATUS[cls]
            return status, ErrorBody(code=code, message=str(exc))
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "request"
        return 400, ErrorBody(code="invalid_input", message=f"{where}: {first['msg']}")
    if isinstance(exc, web.HTTPError):
        return exc.status_code, http_status_body(exc.status_code, exc.log_message)
    # Unexpected: the caller logs the traceback; the client gets one readable line.
    return 500, ErrorBody(code="internal_error", message=f"internal error ({type(exc).__name__})")


def http_status_body(status: int, detail: str | None = None) -> ErrorBody:
    """Errors raised by the server machinery itself (auth, XSRF, unknown method)."""
    codes = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
    message = detail or {
        403: "forbidden: this request needs Jupyter's authentication (token or login)",
    }.get(status, f"HTTP {status}")
    return ErrorBody(code=codes.get(status, f"http_{status}"), message=message)
