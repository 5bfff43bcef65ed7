"""A progress bar for a walk over many items (`mn-nb gc` over blob files, `mn-nb trust`
over values): the store and values code call a plain `progress(done, total)` hook, and
only this CLI layer turns it into a tqdm bar. Drawn on stderr when a person watches it (a
terminal, not CI), never under --json or when piped."""

from __future__ import annotations

import os
import sys
from types import TracebackType
from typing import IO, Any


def bar_wanted(stream: IO[str]) -> bool:
    """A progress bar only for a person watching: a terminal, and not a CI job."""
    ci = os.environ.get("CI", "").strip().lower()
    return stream.isatty() and ci in ("", "0", "false", "no")


class ItemBar:
    """`bar(done, total)` draws; `with ItemBar(...) as bar:` removes it again at the end,
    so the lines printed after it stand alone."""

    def __init__(self, description: str, unit: str, *, enabled: bool = True) -> None:
        self.description, self.unit = description, unit
        self.enabled = enabled and bar_wanted(sys.stderr)
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, desc=self.description, unit=self.unit, file=sys.stderr, leave=False
            )
        self._bar.total = total
        self._bar.update(done - self._bar.n)
        if done >= total:
            # tqdm redraws at most every 0.1 s: show the end once before it is cleared.
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ItemBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
