"""HTTP handlers: parse the request into a pydantic model, run the query off the event
loop, write the answer. Errors of every kind leave through `http_errors.translate`.

Size limits are checked in `prepare()`, before any parsing. A request line or headers over
tornado's own limit (64 KiB, jupyter_server does not let an extension change it) never
reach this code: tornado closes the connection without an answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from jupyter_server.base.handlers import APIHandler
from pydantic import BaseModel
from tornado import web
from tornado.ioloop import IOLoop

from ..errors import InvalidInput
from . import http_errors, queries
from .api_models import (
    ApproveRequest,
    ErrorBody,
    EventsQuery,
    NotebookQuery,
    ResetRequest,
    StepQuery,
    StepsQuery,
    TimelineQuery,
)
from .paths import NotebookRef, resolve_notebook
from .sidecars import Sidecars

SETTINGS_KEY = "mirrorneuron_nb"

Q = TypeVar("Q", bound=BaseModel)

# A request body is a few short fields: anything this large is not one of ours.
MAX_BODY_BYTES = 64 * 1024
# The longest request target (path and query string) answered: room for a notebook path of
# MAX_PATH_CHARS, percent-encoded, and the other parameters.
MAX_URI_CHARS = 16 * 1024


class BaseHandler(APIHandler):
    async def prepare(self) -> None:  # type: ignore[override]  # as APIHandler's own
        await super().prepare()
        # Raised here, they leave through write_error as JSON like every other error.
        if len(self.request.uri or "") > MAX_URI_CHARS:
            raise web.HTTPError(414, f"request target longer than {MAX_URI_CHARS} characters")
        if len(self.request.body) > MAX_BODY_BYTES:
            raise web.HTTPError(413, f"request body larger than {MAX_BODY_BYTES} bytes")

    @property
    def sidecars(self) -> Sidecars:
        sidecars: Sidecars = self.settings[SETTINGS_KEY]
        return sidecars

    @property
    def root(self) -> Path:
        return Path(self.settings["server_root_dir"]).expanduser()

    def query(self, model: type[Q]) -> Q:
        fields = model.model_fields
        args = {k: self.get_query_argument(k) for k in self.request.query_arguments if k in fields}
        return model.model_validate(args)

    def notebook(self, path: str) -> NotebookRef:
        return resolve_notebook(self.root, path)

    def body(self, model: type[Q]) -> Q:
        """The JSON body as `model`; malformed JSON is bad input like a bad field."""
        try:
            text = (self.request.body or b"{}").decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("body: not UTF-8 text") from None
        try:
            data = json.loads(text)
        except RecursionError:
            raise InvalidInput("body: JSON nested too deeply") from None
        except ValueError as exc:
            # JSONDecodeError, and int() refusing a number of thousands of digits.
            raise InvalidInput(f"body: not valid JSON ({exc})") from None
        try:
            # A "\ud800" escape decodes to a lone surrogate, which no file name or SQLite
            # text can hold: refuse it here rather than fail deep in a query.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput("body: a string holds an unpaired UTF-16 surrogate") from None
        return model.model_validate(data)

    def user_name(self) -> str:
        """Who is deciding: the authenticated Jupyter user (its name, else its username)."""
        user = self.current_user
        if isinstance(user, str):
            return user
        for attr in ("name", "username"):
            value = user.get(attr) if isinstance(user, dict) else getattr(user, attr, None)
            if isinstance(value, str) and value:
                return value
        return "jupyter user"

    async def answer(self, work: Callable[[], BaseModel]) -> None:
        """Run `work` in a worker thread (SQLite may wait on a lock) and write its result."""
        try:
            result = await IOLoop.current().run_in_executor(None, work)
        except Exception as exc:
            self.fail(exc)
            return
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(result.model_dump_json())

    def fail(self, exc: BaseException) -> None:
        status, body = http_errors.translate(exc)
        if status >= 500 and body.code == "internal_error":
            self.log.error("mirrorneuron_nb: %s failed", self.request.path, exc_info=exc)
        self.write_body(status, body)

    def write_body(self, status: int, body: ErrorBody) -> None:
        self.clear()
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        if status == 503 and body.code in http_errors.RETRYABLE:
            self.set_header("Retry-After", str(http_errors.RETRY_AFTER))
        self.finish(body.model_dump_json())

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Errors raised before our code runs (auth, XSRF): same JSON shape, no traceback.
        exc_info = kwargs.get("exc_info")
        exc = exc_info[1] if exc_info else None
        if isinstance(exc, web.HTTPError):
            _, body = http_errors.translate(exc)
        else:
            body = http_errors.http_status_body(status_code)
        self.write_body(status_code, body)


class ReadHandler(BaseHandler):
    """GET: parse the query into `model`, resolve the notebook, answer `read(...)`."""

    model: type[NotebookQuery] = NotebookQuery

    def read(self, q: Any, nb: NotebookRef) -> BaseModel:
        raise NotImplementedError

    @web.authenticated
    async def get(self) -> None:
        try:
            q = self.query(self.model)
            nb = self.notebook(q.path)
        except Exception as exc:
            self.fail(exc)
            return
        await self.answer(lambda: self.read(q, nb))


class WriteHandler(BaseHandler):
    """POST: parse the JSON body into `model`, resolve the notebook, answer `write(...)`."""

    model: type[NotebookQuery] = NotebookQuery

    def write_change(self, q: Any, nb: NotebookRef, by: str) -> BaseModel:
        raise NotImplementedError

    @web.authenticated
    async def post(self) -> None:
        try:
            q = self.body(self.model)
            nb = self.notebook(q.path)
            by = self.user_name()
        except Exception as exc:
            self.fail(exc)
            return
        await self.answer(lambda: self.write_change(q, nb, by))


class StepsHandler(ReadHandler):
    model = StepsQuery

    def read(self, q: StepsQuery, nb: NotebookRef) -> BaseModel:
        return queries.steps_state(self.sidecars, nb, q.since)


class PlanHandler(ReadHandler):
    def read(self, q: NotebookQuery, nb: NotebookRef) -> BaseModel:
        return queries.plan_state(self.sidecars, nb)


class RunsHandler(ReadHandler):
    def read(self, q: NotebookQuery, nb: NotebookRef) -> BaseModel:
        return queries.runs_list(self.sidecars, nb)


class EventsHandler(ReadHandler):
    model = EventsQuery

    def read(self, q: EventsQuery, nb: NotebookRef) -> BaseModel:
        return queries.events_page(self.sidecars, nb, q.after, q.limit, q.step)


class StepHandler(ReadHandler):
    model = StepQuery

    def read(self, q: StepQuery, nb: NotebookRef) -> BaseModel:
        return queries.step_detail(self.sidecars, nb, q.name)


class ResetHandler(WriteHandler):
    model = ResetRequest

    def write_change(self, q: ResetRequest, nb: NotebookRef, by: str) -> BaseModel:
        return queries.reset_step(nb, q.name, self.sidecars.busy_timeout_ms)


class ApproveHandler(WriteHandler):
    model = ApproveRequest

    def write_change(self, q: ApproveRequest, nb: NotebookRef, by: str) -> BaseModel:
        busy = self.sidecars.busy_timeout_ms
        return queries.approve_step(nb, q.name, q.approve, by, q.note, busy)


class TimelineHandler(ReadHandler):
    model = TimelineQuery

    def read(self, q: TimelineQuery, nb: NotebookRef) -> BaseModel:
        return queries.timeline_of(self.sidecars, nb, q.runs)
