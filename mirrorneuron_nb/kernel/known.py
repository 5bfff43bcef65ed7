"""Fingerprint once: the fingerprints of this kernel's values that still hold.

A fingerprint taken of a variable's value is kept with the object itself (compared by
identity, and for arrays by data pointer, shape, strides and dtype) and reused until
something could have changed it. What could: every executed cell (plain or step, silent
ones included) forgets, when it ends, the names it binds and, unless every operation in
it is known not to write into a value (readonly.py), every fingerprint. A widget's callback
runs on a comm message, between `pre_execute` and `post_execute` events with no cell (the
`comm` package sends them): it forgets every fingerprint too. While a thread the notebook
started is alive nothing is reused (it may write at any time).

Reuse happens only where nothing of the user's ran since the last cell ended: while a
`%%mn_step` cell plans (the fingerprints of its inputs), and after its body for values
re-fingerprinted after it, or all of them when the body only reads.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Any

from ..values.canonical import BufferDigests, Traits
from ..values.fingerprint import fingerprint, is_immutable
from .readonly import effects

_STEP_MAGIC = "%%mn_step"
_GONE = object()
_TRANSFORMED_KEPT = 256


@dataclass
class _Known:
    value: Any
    """The object fingerprinted: held, so identity is exact (no reused id)."""
    layout: tuple[Any, ...] | None
    fingerprint: str
    plain: bool
    """Exact builtin containers and atoms only (canonical.Traits): marshal saves it."""
    # Not the array digests the fingerprint took: a library's canonical form may hash a
    # temporary copy, which they would keep alive. A reused fingerprint leaves the blob
    # keys of a value saved again to be hashed by the snapshot.


class KnownFingerprints:
    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self._known: dict[str, _Known] = {}
        self.reused = 0
        """How many fingerprints were reused instead of taken (for tests and benchmarks)."""
        # The running cell: names it binds, or None when anything may change.
        self._changes: frozenset[str] | None = None
        self._step_cell = False
        self._plans = 0
        self._verified: set[str] = set()  # fingerprints that hold after the step's body
        self._transformed: dict[tuple[Any, ...], str] = {}
        self._threads = {t.ident for t in threading.enumerate()}
        shell.events.register("pre_execute", self._pre_execute)
        shell.events.register("pre_run_cell", self._pre_run_cell)
        shell.events.register("post_execute", self._post_execute)

    # -- what steps call --------------------------------------------------------------------

    def before_body(self, name: str, value: Any) -> str:
        """The fingerprint of an input, reused when nothing could have changed it."""
        hit = self._get(name, value) if self._trusted() else None
        if hit is not None:
            return hit.fingerprint
        return self._take(name, value, None)

    def body_starts(self) -> None:
        """The step's inputs are fingerprinted: what runs now is the user's."""
        self._plans += 1

    def after_body(
        self, name: str, value: Any, digests: BufferDigests, *, reads_only: bool = False
    ) -> str:
        """The fingerprint of a value after the step's body: reused when the body only
        reads (`reads_only`) or it was taken after the body already; else taken."""
        if (reads_only or name in self._verified) and self._plans == 1:
            hit = self._get(name, value)
            if hit is not None:
                self._verified.add(name)
                return hit.fingerprint
        fp = self._take(name, value, digests)
        self._verified.add(name)
        return fp

    def plain(self, name: str, value: Any) -> bool:
        """After the body: `name`'s value, whose fingerprint holds now (after_body or
        holds said so), is plain data (canonical.Traits), so marshal can save it. Not
        while a thread the notebook started runs (it could add any object meanwhile)."""
        found = self._known.get(name)
        return (
            name in self._verified
            and found is not None
            and found.value is value
            and found.plain
            and not self.foreign_threads()
        )

    def holds(self, name: str, value: Any) -> bool:
        """After a body that only reads: the input's fingerprint from before still holds."""
        if self._plans == 1 and self._get(name, value) is not None:
            self._verified.add(name)
            return True
        return False

    # -- the cache -------------------------------------------------------------------------

    def _take(self, name: str, value: Any, digests: BufferDigests | None) -> str:
        own: BufferDigests = {}
        traits = Traits()
        fp = fingerprint(value, own, traits)
        if digests is not None:
            digests.update(own)
        if not is_immutable(value):  # immutables are cheap to fingerprint: not kept
            self._known[name] = _Known(value, _layout(value), fp, traits.plain)
        return fp

    def _get(self, name: str, value: Any) -> _Known | None:
        found = self._known.get(name)
        if found is None:
            return None
        if found.value is not value or found.layout != _layout(value):
            del self._known[name]  # rebound: let the old object go
            return None
        if self.foreign_threads():
            return None
        self.reused += 1
        return found

    def _trusted(self) -> bool:
        """Only a `%%mn_step` cell's own plan may reuse: before its body, nothing ran."""
        return self._step_cell and self._plans == 0

    def quiet(self) -> bool:
        """No thread the notebook started is alive: only cells write into values."""
        return not self.foreign_threads()

    def foreign_threads(self) -> bool:
        """A thread the notebook started is alive: it may write into any value."""
        return any(
            t.ident not in self._threads and not t.name.startswith("mn-")
            for t in threading.enumerate()
        )

    # -- cells -----------------------------------------------------------------------------

    def _pre_execute(self) -> None:
        # Also for silent executions, which skip pre_run_cell: they may change anything.
        self._changes, self._step_cell, self._plans = None, False, 0
        self._verified = set()

    def _pre_run_cell(self, info: Any) -> None:
        raw = getattr(info, "raw_cell", None)
        if not isinstance(raw, str):
            return
        first, _, rest = raw.lstrip().partition("\n")  # IPython skips blank lines too
        self._step_cell = first.split(maxsplit=1)[:1] == [_STEP_MAGIC]
        try:
            code = self.transform(rest if self._step_cell else raw)
        except Exception:  # IPython refuses it: the cell fails, and changes nothing known
            return
        found = effects(code)
        if found.mutation(self.shell.user_ns) is None:
            self._changes = found.binds

    def _post_execute(self) -> None:
        kept = self._verified if self._step_cell and self._plans == 1 else set()
        if self._changes is None:
            self._known = {n: k for n, k in self._known.items() if n in kept}
        else:
            for name in self._changes - kept:
                self._known.pop(name, None)
        # Nor is an object kept alive once its name is bound to another (a restore rebinds
        # names the cell does not): what is known is what the namespace holds.
        ns = self.shell.user_ns
        self._known = {n: k for n, k in self._known.items() if ns.get(n, _GONE) is k.value}
        self._changes, self._step_cell, self._verified = None, False, set()

    def transform(self, raw: str) -> str:
        """`shell.transform_cell(raw)`, remembered: a step's body is transformed when its
        cell starts and again by its plan, and IPython's tokenizer is slow."""
        shell = self.shell
        key = (
            raw,
            tuple(map(id, getattr(shell, "input_transformers_cleanup", ()))),
            tuple(map(id, getattr(shell, "input_transformers_post", ()))),
        )
        found = self._transformed.get(key)
        if found is None:
            found = str(shell.transform_cell(raw))
            if len(self._transformed) >= _TRANSFORMED_KEPT:
                self._transformed.clear()
            self._transformed[key] = found
        return found


def _layout(value: Any) -> tuple[Any, ...] | None:
    """An array's memory and shape: what an in-place resize or a new buffer changes."""
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.ndarray):
        return (value.__array_interface__["data"][0], value.shape, value.strides, value.dtype.str)
    return None
