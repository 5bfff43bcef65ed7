"""Numeric options, checked once: finite and in a range whose use cannot overflow.

The magic (kernel/policy.py) and the CLI (batch/cli.py) both check their numbers here, so
`inf`, `nan`, `1e300` or a negative count are refused up front with one line naming the
option and the allowed range, never an OverflowError halfway through a run.
"""

from __future__ import annotations

import math

from .errors import InvalidInput

MAX_SECONDS = 10 * 365 * 24 * 3600
"""Ten years: far beyond any sensible wait, and far below what `signal.setitimer`,
`time.sleep` and `threading.TIMEOUT_MAX` accept (also after +25% retry jitter)."""
MAX_COUNT = 1_000_000_000
"""Counts (retries, runs, events) stay far below SQLite's 64-bit integers."""
MAX_FACTOR = 1000.0
"""A backoff factor; the delay it produces is capped anyway (policy.StepOptions.delay)."""


def seconds(option: str, value: float, *, positive: bool = False) -> float:
    """`value` as seconds for `option`: finite, at least 0 (more than 0 if `positive`), at
    most MAX_SECONDS."""
    problem = _seconds_problem(value, positive)
    if problem:
        raise InvalidInput(f"{option} {problem}")
    return float(value)


def count(option: str, value: int, *, maximum: int = MAX_COUNT) -> int:
    """`value` as a count for `option`: a whole number from 0 to `maximum`."""
    problem = _count_problem(value, maximum)
    if problem:
        raise InvalidInput(f"{option} {problem}")
    return value


def factor(option: str, value: float) -> float:
    """A multiplier from 1 to MAX_FACTOR."""
    if not (math.isfinite(value) and 1 <= value <= MAX_FACTOR):
        raise InvalidInput(f"{option} must be 1 or more and at most {MAX_FACTOR:g}, not {value!r}")
    return float(value)


def _seconds_problem(value: float, positive: bool) -> str:
    if math.isfinite(value) and (value > 0 if positive else value >= 0) and value <= MAX_SECONDS:
        return ""
    low = "more than 0" if positive else "0 or more"
    return f"must be {low} and at most {MAX_SECONDS} seconds (10 years), not {value!r}"


def _count_problem(value: int, maximum: int) -> str:
    if not isinstance(value, bool) and isinstance(value, int) and 0 <= value <= maximum:
        return ""
    return f"must be 0 or more and at most {maximum}, not {value!r}"
