"""Plain-text formatting shared by magics and CLI: sizes, durations, times, tables."""

from __future__ import annotations

import html
import math
import re
import time
from collections.abc import Sequence
from typing import Any

# C0 and C1 controls and DEL (ESC starts ANSI and OSC sequences, \r rewrites a line), line
# separators, and the bidi marks, embeddings, overrides and isolates that make a terminal
# show text out of order.
_BIDI = r"\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(rf"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_UNSAFE_BUT_NEWLINE = re.compile(rf"[\x00-\x09\x0b-\x1f\x7f-\x9f{_BIDI}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str, *, keep_newlines: bool = False) -> str:
    """`text` with every control and bidi character shown as an escape (ESC as `\\x1b`), so
    text read from a sidecar cannot move the cursor, recolour, retitle or reorder what a
    terminal shows. Applied where stored text is printed (tables, messages, reports)."""
    return (_UNSAFE_BUT_NEWLINE if keep_newlines else _UNSAFE).sub(_escape, text)


ELLIPSIS = "…"


def clip(text: str, width: int) -> str:
    """`text` in at most `width` characters: whole when it fits, else cut at the last space
    in the second half of the room (else mid-word) and ended with an ellipsis, so a reader
    sees that something is missing."""
    if len(text) <= width:
        return text
    room = max(width - len(ELLIPSIS), 0)
    cut = text[:room]
    space = cut.rfind(" ")
    if space >= room // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + ELLIPSIS


def format_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def format_elapsed(seconds: float) -> str:
    """A wait or a run so far, as a person says it: "45 s", "2 min 10 s", "1 h 3 min"."""
    whole = max(int(seconds), 0)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def format_when(ts: float | None, now: float | None = None) -> str:
    if ts is None:
        return "-"
    ago = (now or time.time()) - ts
    if ago < 60:
        return f"{max(ago, 0):.0f} s ago"
    if ago < 3600:
        return f"{ago / 60:.0f} min ago"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def format_wake(ts: float) -> str:
    """A wake-up time as "14:06 (2025-01-02 14:05:03 CET)": the minute after which running
    again proceeds (rounded up), then the exact local time."""
    minute = time.localtime(math.ceil(ts / 60) * 60)
    exact = time.localtime(ts)
    return f"{time.strftime('%H:%M', minute)} ({time.strftime('%Y-%m-%d %H:%M:%S %Z', exact)})"


def describe(value: Any) -> str:
    """A short type-and-shape summary for resume reports."""
    kind = type(value).__name__
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None and not callable(shape):
        return f"{kind} {dtype} {tuple(shape)}"
    if shape is not None and not callable(shape):
        return f"{kind} {tuple(shape)}"
    try:
        return f"{kind} len={len(value)}"
    except TypeError:
        return kind


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns of text; every cell is made terminal-safe (it often comes from a sidecar)."""
    headers = [terminal_safe(h) for h in headers]
    rows = [[terminal_safe(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


ELLIPSIS = "\u2026"


def html_safe(text: str) -> str:
    """`text` for HTML text or a quoted attribute: markup escaped, controls and bidi marks
    shown as escapes (sidecar text is untrusted: it never becomes markup or reorders)."""
    return html.escape(terminal_safe(text), quote=True)
