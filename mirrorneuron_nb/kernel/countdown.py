"""Sleep until a wall-clock time, showing what is left: one updating line in a frontend
(a widget, published without text/plain so the step's recorded outputs do not replay a
dead countdown), a text line every TEXT_INTERVAL seconds otherwise (batch runs, consoles).

The sleep is cut in short slices, so an interrupt (KeyboardInterrupt) stops it at once,
like any interrupt of the step's body.
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Any

from ..render import format_duration
from .progress import frontend

WIDGET_INTERVAL = 0.5
TEXT_INTERVAL = 60.0


def sleep_until(wake_at: float, label: str, what: str) -> float:
    """Block until time.time() >= wake_at; the seconds slept. `label` starts each line
    ("mn_step wait"), `what` names the wait ("mn.sleep(6)")."""
    began = time.time()
    if wake_at <= began:
        return 0.0
    until = time.strftime("%H:%M:%S", time.localtime(wake_at))
    line: Any = None
    if frontend():
        with contextlib.suppress(Exception):  # no ipywidgets, no comm: plain text
            line = _show_widget()
    if line is None:
        _say(f"{label}: {what}: sleeping {format_duration(wake_at - began)}, until {until}")
    interval = WIDGET_INTERVAL if line is not None else TEXT_INTERVAL
    shown = time.monotonic()
    while (left := wake_at - time.time()) > 0:
        if line is not None:
            line.value = (
                f"{label}: {what}: {format_duration(left)} left, until {until} "
                "(interrupt the kernel to stop)"
            )
        elif time.monotonic() - shown >= interval:
            _say(f"{label}: {what}: {format_duration(left)} left, until {until}")
            shown = time.monotonic()
        time.sleep(min(left, interval))
    slept = time.time() - began
    if line is not None:
        line.value = f"{label}: {what}: woke at {until}"
    _say(f"{label}: {what}: slept {format_duration(slept)}, woke at {until}")
    return slept


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _show_widget() -> Any:
    import ipywidgets
    from IPython import display as ipython_display

    display: Any = ipython_display.display  # untyped

    label = ipywidgets.Label(value="")
    bundle = label._repr_mimebundle_() or {}
    display({k: v for k, v in bundle.items() if k != "text/plain"}, raw=True)
    return label
