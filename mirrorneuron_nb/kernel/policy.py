"""Step options and the retry/timeout policy they imply.

Validated up front with precise messages (InvalidInput -> UsageError at the magic), so
a bad option changes nothing.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import json
import math
import random
import signal
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import FrameType
from typing import Any

from .. import limits
from ..errors import InvalidInput, StepTimeout

KINDS = ("compute", "llm", "tool", "human")


@dataclass(frozen=True)
class StepOptions:
    force: bool = False
    outputs: tuple[str, ...] | None = None
    """Checkpoint exactly these names instead of the detected ones."""
    after: tuple[str, ...] = ()
    """Upstream steps the data flow does not reveal."""
    retries: int = 0
    backoff: float = 1.0
    backoff_factor: float = 2.0
    max_backoff: float = 300.0
    retry_on: tuple[str, ...] = ()
    timeout: float | None = None
    once: bool = False
    approve: str | None = None
    kind: str = "compute"
    no_wait: bool = False
    """Fail at once when another process holds the step, instead of waiting for it."""

    def __post_init__(self) -> None:
        # Every number is finite and in a range whose use cannot overflow (limits.py).
        limits.count("--retries", self.retries)
        limits.seconds("--backoff", self.backoff)
        limits.seconds("--max-backoff", self.max_backoff)
        limits.factor("--backoff-factor", self.backoff_factor)
        if self.timeout is not None:
            limits.seconds("--timeout", self.timeout, positive=True)
        if self.kind not in KINDS:
            raise InvalidInput(f"--kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.approve is not None and not self.approve.strip():
            raise InvalidInput("--approve needs a question to ask")

    def as_dict(self) -> dict[str, Any]:
        """What is recorded with the step (and shown by the panel and the CLI)."""
        return {
            "outputs": list(self.outputs) if self.outputs is not None else None,
            "after": list(self.after),
            "retries": self.retries,
            "timeout": self.timeout,
            "once": self.once,
            "approve": self.approve,
            "kind": self.kind,
            "retry_on": list(self.retry_on),
        }

    def cache_dict(self) -> dict[str, Any]:
        """The options that change what a step computes, hence its cache key. Retry and
        timeout settings, kind and approval do not."""
        return {
            "outputs": list(self.outputs) if self.outputs is not None else None,
            "after": list(self.after),
        }

    @cached_property
    def cache_json(self) -> str:
        """`cache_dict` as the cache key hashes it; made once (parsed options are kept)."""
        return json.dumps(self.cache_dict(), sort_keys=True)

    def delay(self, failed_attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after attempt N failed: backoff * factor^(N-1), capped, with
        +-25% jitter so many retrying notebooks do not hit a service in lockstep."""
        base = self._capped(failed_attempt)
        return base * (rng or random).uniform(0.75, 1.25) if base else 0.0

    def _capped(self, failed_attempt: int) -> float:
        # Compared as logarithms: factor ** attempt overflows a float long before a
        # --retries count runs out.
        if self.backoff == 0 or self.max_backoff == 0:
            return 0.0
        growth = max(failed_attempt - 1, 0) * math.log(self.backoff_factor)
        if math.log(self.backoff) + growth >= math.log(self.max_backoff):
            return self.max_backoff
        return float(self.backoff * math.exp(growth))


def resolve_exceptions(names: tuple[str, ...], namespace: Mapping[str, Any]) -> tuple[type, ...]:
    """Exception classes for --retry-on: builtins, the notebook's names, or module.Name."""
    found: list[type] = []
    for name in names:
        value = namespace.get(name, getattr(builtins, name, None))
        if value is None and "." in name:
            module, _, attr = name.rpartition(".")
            try:
                value = getattr(importlib.import_module(module), attr, None)
            except ImportError:
                value = None
        if not (isinstance(value, type) and issubclass(value, BaseException)):
            raise InvalidInput(f"--retry-on: {name!r} is not an exception class")
        found.append(value)
    return tuple(found)


def retryable(exc: BaseException, retry_on: tuple[type, ...]) -> bool:
    if not isinstance(exc, Exception):
        return False  # KeyboardInterrupt, SystemExit: the user or the kernel wants out
    return not retry_on or isinstance(exc, retry_on)


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise StepTimeout in the running code after `seconds` (SIGALRM, main thread only:
    where ipykernel runs cells). Code stuck inside one long C call is interrupted when it
    returns to Python."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise StepTimeout(f"attempt exceeded --timeout {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
