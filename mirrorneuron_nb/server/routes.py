"""URL table of the REST API, under the server's base URL."""

from __future__ import annotations

from typing import Any

from jupyter_server.utils import url_path_join

from .handlers import (
    SETTINGS_KEY,
    ApproveHandler,
    EventsHandler,
    PlanHandler,
    ResetHandler,
    RunsHandler,
    StepHandler,
    StepsHandler,
    TimelineHandler,
)
from .sidecars import Sidecars

PREFIX = ("mirrorneuron", "api")

ROUTES: list[tuple[str, type]] = [
    ("steps", StepsHandler),
    ("runs", RunsHandler),
    ("events", EventsHandler),
    ("step", StepHandler),
    ("reset", ResetHandler),
    ("approve", ApproveHandler),
    ("plan", PlanHandler),
    ("timeline", TimelineHandler),
]


def setup_routes(web_app: Any, sidecars: Sidecars) -> None:
    web_app.settings[SETTINGS_KEY] = sidecars
    base_url = web_app.settings["base_url"]
    web_app.add_handlers(
        ".*$", [(url_path_join(base_url, *PREFIX, name), handler) for name, handler in ROUTES]
    )
