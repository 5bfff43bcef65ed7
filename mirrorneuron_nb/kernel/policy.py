"""Step options and the retry/timeout policy they imply.

Validated up front with precise messages (InvalidInput -> UsageError at the magic), so
a bad option changes nothing.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import random
import signal
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any

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

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise InvalidInput(f"--retries must be 0 or more, not {self.retries}")
        for option, value in (("--backoff", self.backoff), ("--max-backoff", self.max_backoff)):
            if not value >= 0:  # also rejects NaN
                raise InvalidInput(f"{option} must be 0 or more seconds, not {value}")
        if not self.backoff_factor >= 1:
            raise InvalidInput(f"--backoff-factor must be 1 or more, not {self.backoff_factor}")
        if self.timeout is not None and not self.timeout > 0:
            raise InvalidInput(f"--timeout must be more than 0 seconds, not {self.timeout}")
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

    def delay(self, failed_attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after attempt N failed: backoff * factor^(N-1), capped, with
        +-25% jitter so many retrying notebooks do not hit a service in lockstep."""
        base = min(self.max_backoff, self.backoff * self.backoff_factor ** (failed_attempt - 1))
        return base * (rng or random).uniform(0.75, 1.25) if base else 0.0


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
