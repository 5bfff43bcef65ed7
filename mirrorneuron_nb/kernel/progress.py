"""Progress of a step's durable calls, in the cell: a widget in a frontend, text otherwise.

Updates are throttled (a widget at most ~10 times a second, a text line every
TEXT_INTERVAL seconds) so a loop of fast calls is not slowed down by its own display.
The widget is published without a text/plain part, so the step's recorded outputs (which
keep only the text of widgets) do not replay a dead progress bar on a cache hit.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass
from typing import Any

from .. import config

WIDGET_INTERVAL = 0.1
TEXT_INTERVAL = 15.0


@dataclass
class Tally:
    """Counts of one attempt's durable calls."""

    recorded: int = 0
    """Completed calls the open journal held when the attempt made its first call."""
    made: int = 0
    replayed: int = 0
    ran: int = 0
    failed: int = 0
    unsaved: int = 0
    unusable: int = 0
    """Recorded results that could not be loaded (untrusted, damaged) and ran again."""
    announced: bool = False

    @property
    def executed(self) -> int:
        return self.ran + self.failed + self.unsaved

    def describe(self, *, final: bool = False) -> str:
        if not final and self.executed == 0 and self.recorded:
            left = max(self.recorded - self.replayed, 0)
            return f"{self.replayed}/{self.recorded} recorded calls replayed, {left} to go"
        text = f"{self.made} made: {self.replayed} replayed, {self.executed} run"
        extra = [
            f"{n} {what}"
            for n, what in (
                (self.failed, "failed"),
                (self.unsaved, "not recorded"),
                (self.unusable, "recorded but unusable"),
            )
            if n
        ]
        return text + (f" ({', '.join(extra)})" if extra else "")


class CallProgress:
    def __init__(self, step: str) -> None:
        self.step = step
        self._last = 0.0
        self._bar: Any = None
        self._label: Any = None
        if frontend():
            with contextlib.suppress(Exception):  # no ipywidgets, no comm: plain text
                self._bar, self._label = _show_widget()
        self._interval = WIDGET_INTERVAL if self._bar is not None else TEXT_INTERVAL
        # Text mode: the first line comes after one interval, so short loops stay quiet.
        self._last = time.monotonic() if self._bar is None else 0.0

    def tick(self, tally: Tally, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self._interval:
            return
        self._last = now
        if self._bar is not None:
            self._bar.max = max(tally.recorded, tally.made, 1)
            self._bar.value = tally.made
            self._bar.bar_style = "info" if tally.executed == 0 and tally.recorded else ""
            self._label.value = tally.describe()
        elif not force:
            self.say(f"durable calls: {tally.describe()}")

    def say(self, text: str) -> None:
        print(f"mn_step {self.step}: {text}", file=sys.stderr)

    def close(self, tally: Tally, ok: bool, left: int | None) -> None:
        """The attempt is over: a last update and one summary line (kept in the outputs)."""
        if self._bar is not None:
            self.tick(tally, force=True)
            self._bar.bar_style = "success" if ok else "danger"
        text = f"durable calls: {tally.describe(final=True)}"
        if not ok and left:
            text += f"; {left} recorded, a re-run of the step replays them"
        self.say(text)


def frontend() -> bool:
    """A kernel a frontend talks to, outside batch runs (papermill has no widget view)."""
    if config.run_kind() != config.INTERACTIVE:
        return False
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    ip = get() if get is not None else None
    return ip is not None and getattr(ip, "kernel", None) is not None


def _show_widget() -> tuple[Any, Any]:
    import ipywidgets
    from IPython import display as ipython_display

    display: Any = ipython_display.display  # untyped

    bar = ipywidgets.IntProgress(value=0, min=0, max=1, description="durable calls")
    label = ipywidgets.Label(value="")
    box = ipywidgets.HBox([bar, label])
    bundle = box._repr_mimebundle_() or {}
    data = {k: v for k, v in bundle.items() if k != "text/plain"}
    display(data, raw=True)
    return bar, label
