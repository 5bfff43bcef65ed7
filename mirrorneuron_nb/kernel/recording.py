"""The durable-call journal of the step that is running: keys, replay, recording.

The runner wraps a step's body in `recording(...)`; durable calls made meanwhile (from any
thread: LLM calls are often fanned out over a thread pool) find it through `active()`.
A call's key is the function's qualified name, a fingerprint of its code, fingerprints of
its arguments, and how many times the same key occurred before in this attempt, so a loop
calling f(x) three times with equal arguments maps each call to its own record.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
import time
import types
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import CheckpointUnavailable, MirrorNeuronError, NotCheckpointable, one_line
from ..models import CallRecord, CallStatus, VarEntry
from ..store import Store
from ..values import codec
from ..values.digest import digest_parts
from ..values.fingerprint import code_digest, stable_fingerprint
from ..values.serializers import snapshot, type_name
from ..values.signing import Binding
from .progress import CallProgress, Tally

_active: Recording | None = None


def active() -> Recording | None:
    """The recording of the step running in this kernel, or None outside any step."""
    return _active


@contextlib.contextmanager
def recording(
    store: Store,
    *,
    run_id: str | None,
    attempt_id: int | None,
    step: str,
    namespace: dict[str, Any] | None = None,
) -> Iterator[Recording]:
    """Record (and replay) the durable calls the block makes as calls of `step`.

    `namespace` is where functions and classes defined in the notebook live, so results
    holding them are restored against it.
    """
    global _active
    rec = Recording(store, run_id=run_id, attempt_id=attempt_id, step=step, namespace=namespace)
    previous, _active = _active, rec
    ok = False
    try:
        yield rec
        ok = True
    finally:
        _active = previous
        rec.finish(ok)


@dataclass
class Pending:
    """A call between `begin` and its outcome (or a replayed one, with its value)."""

    function: str
    call_key: str
    occurrence: int
    started_at: float = 0.0
    began: float = 0.0
    replayed: bool = False
    value: Any = None
    quiet: bool = False
    """The package's own record (a wake-up time, a poll): not counted or shown as a call."""


class Recording:
    def __init__(
        self,
        store: Store,
        *,
        run_id: str | None,
        attempt_id: int | None,
        step: str,
        namespace: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.step = step
        self.run_id = run_id
        self.attempt_id = attempt_id
        self.namespace = namespace if namespace is not None else {}
        self.tally = Tally()
        # One sqlite connection serves every thread: each use holds this lock, so two
        # threads never interleave statements of their transactions.
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}
        self._warned: set[str] = set()
        self._progress: CallProgress | None = None
        try:
            self.sidecar = store.sidecar_id()
        except MirrorNeuronError:  # the journal is unusable too: nothing verifies
            self.sidecar = ""

    def binding(self, pending: Pending) -> Binding:
        """Where a call's result is signed for: this sidecar, step, function, call key and
        occurrence (a result copied to another call or variable does not verify)."""
        call = (pending.call_key, pending.occurrence)
        return Binding(self.sidecar, self.step, pending.function, call)

    # -- one call ----------------------------------------------------------------------------

    def begin(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Pending:
        """Number the call; if the open journal holds its result, return it replayed."""
        function, key, unstable = call_key(fn, args, kwargs)
        with self._lock:
            progress = self._started()
            if unstable:
                self._warn_once(
                    f"unstable:{function}",
                    f"mn_step {self.step}: an argument of {function} ({unstable}) has no stable "
                    "fingerprint, so its calls are replayed only within this kernel",
                )
            occurrence = self._seen.get(key, 0)
            self._seen[key] = occurrence + 1
            self.tally.made += 1
            index = self.tally.made
            entry = self._find(key, occurrence)
        if entry is not None:
            try:
                where = self.binding(Pending(function, key, occurrence))
                value = codec.load(self.store.blobs, entry, self.namespace, where)
            except CheckpointUnavailable as exc:
                # An untrusted or damaged record is no record: the call runs again.
                with self._lock:
                    self.tally.unusable += 1
                    self._warn_once(
                        "unusable",
                        f"mn_step {self.step}: a recorded result of {function} cannot be used "
                        f"({exc.reason}); such calls run again",
                    )
            else:
                with self._lock:
                    self.tally.replayed += 1
                    progress.tick(self.tally)
                return Pending(function, key, occurrence, replayed=True, value=value)
        with self._lock:
            if self.tally.replayed and not self.tally.announced:
                self.tally.announced = True
                progress.say(
                    f"replayed {self.tally.replayed} recorded call(s), running from call {index}"
                )
        return Pending(function, key, occurrence, started_at=time.time(), began=time.perf_counter())

    def journaled(
        self, what: str, parts: tuple[Any, ...], compute: Callable[[], Any]
    ) -> tuple[Any, bool]:
        """(value, replayed): a record the package itself keeps in this step's journal (a
        sleep's wake-up time, one poll of a wait). Replayed by the same rules as durable
        calls, keyed by `what`, `parts` and occurrence, but neither counted nor shown as
        one of the step's calls. `compute` runs only when nothing usable is recorded."""
        function = f"mirrorneuron_nb.{what}"
        key = digest_parts([function.encode(), *(f"\x00{_stable(p)}".encode() for p in parts)])
        with self._lock:
            occurrence = self._seen.get(key, 0)
            self._seen[key] = occurrence + 1
            try:
                entry = self.store.find_call(self.step, key, occurrence)
            except MirrorNeuronError:
                entry = None
        pending = Pending(function, key, occurrence, quiet=True)
        if entry is not None:
            try:
                where = self.binding(pending)
                return codec.load(self.store.blobs, entry, self.namespace, where), True
            except CheckpointUnavailable as exc:
                with self._lock:
                    self._warn_once(
                        "unusable-own",
                        f"mn_step {self.step}: a recorded {what} cannot be used ({exc.reason}); "
                        "it starts again",
                    )
        pending.started_at, pending.began = time.time(), time.perf_counter()
        try:
            result = compute()
        except BaseException as exc:
            self.failed(pending, exc)
            raise
        self.succeeded(pending, result)
        return result, False

    def event(self, kind: str, wake_at: float, what: str) -> None:
        """An event of this step's wait (sleeping, woke); a failed write loses only it."""
        with self._lock, contextlib.suppress(MirrorNeuronError):
            self.store.record_wait(self.run_id, self.step, kind, wake_at, what)

    def succeeded(self, pending: Pending, result: Any) -> None:
        duration = time.perf_counter() - pending.began
        status, entry, error = CallStatus.succeeded, None, None
        used: list[tuple[str, int]] = []
        try:
            snap = snapshot(result)
            where = self.binding(pending)
            entry, used = codec.save(self.store.blobs, where, snap, snap.fingerprint)
            if used:
                self.store.blobs.sync_dirs([k for k, _ in used])
        except NotCheckpointable as exc:
            status, error = CallStatus.unsaved, str(exc)
            self._warn_once(
                f"unsaved:{pending.function}",
                f"mn_step {self.step}: the result of {pending.function} ({type_name(result)}) "
                f"cannot be recorded ({exc}); such calls run again when the step re-runs",
            )
        except OSError as exc:
            status, error = CallStatus.unsaved, f"could not be written: {exc}"
            self._warn_once(
                "oserror", f"mn_step {self.step}: a durable call's result {error}; it runs again"
            )
        self._write(pending, status, duration, entry, used, error)

    def failed(self, pending: Pending, exc: BaseException) -> None:
        duration = time.perf_counter() - pending.began
        self._write(pending, CallStatus.failed, duration, None, [], one_line(exc))

    def _write(
        self,
        pending: Pending,
        status: CallStatus,
        duration: float,
        entry: VarEntry | None,
        used: list[tuple[str, int]],
        error: str | None,
    ) -> None:
        call = CallRecord(
            step=self.step,
            function=pending.function,
            call_key=pending.call_key,
            occurrence=pending.occurrence,
            status=status,
            run_id=self.run_id,
            attempt_id=self.attempt_id,
            started_at=pending.started_at,
            duration=duration,
            result=entry,
            error=error,
            blobs=used,
        )
        with self._lock:
            try:
                self.store.record_call(call)
            except MirrorNeuronError as exc:
                # The call happened; failing the step now would not un-happen it.
                self._warn_once(
                    "write",
                    f"mn_step {self.step}: a durable call could not be recorded ({exc}); "
                    "it runs again if the step is re-run",
                )
            if pending.quiet:
                return
            if status is CallStatus.succeeded:
                self.tally.ran += 1
            elif status is CallStatus.failed:
                self.tally.failed += 1
            else:
                self.tally.unsaved += 1
            if self._progress is not None:
                self._progress.tick(self.tally)

    # -- the attempt ---------------------------------------------------------------------------

    def finish(self, ok: bool) -> None:
        with self._lock:
            if self._progress is None:
                return
            left = None
            if not ok:
                with contextlib.suppress(MirrorNeuronError):
                    left = self.store.open_call_counts(self.step).succeeded
            self._progress.close(self.tally, ok, left)

    def _started(self) -> CallProgress:
        """On the first durable call (steps without any pay nothing): journal size, display."""
        if self._progress is None:
            try:
                self.tally.recorded = self.store.open_call_counts(self.step).succeeded
            except MirrorNeuronError:
                self.tally.recorded = 0
            self._progress = CallProgress(self.step)
            self._progress.tick(self.tally, force=True)
        return self._progress

    def _find(self, key: str, occurrence: int) -> VarEntry | None:
        if not self.tally.recorded:
            return None  # an empty journal at the start stays empty for our keys
        try:
            return self.store.find_call(self.step, key, occurrence)
        except MirrorNeuronError:
            return None

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            print(message, file=sys.stderr)


# -- call keys -----------------------------------------------------------------------------------


def call_key(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[str, str, str | None]:
    """(function name, call key without the occurrence, why an argument is unstable or None)."""
    fn, args, kwargs = _unwrap(fn, args, kwargs)
    function, code = _identity(fn)
    parts = [function.encode(), b"\x00", code.encode()]
    unstable = None
    for label, value in [*enumerate(args), *sorted(kwargs.items())]:
        fp = stable_fingerprint(value)
        if fp is None:
            unstable = unstable or type_name(value)
            fp = f"id:{id(value)}"  # the same object, within this process
        parts += [b"\x00", str(label).encode(), b"=", fp.encode()]
    return function, digest_parts(parts), unstable


def _unwrap(
    fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
    """Bound methods and partials become their function plus explicit arguments."""
    for _ in range(32):
        if isinstance(fn, functools.partial):
            args, kwargs, fn = (*fn.args, *args), {**fn.keywords, **kwargs}, fn.func
        elif isinstance(fn, types.MethodType):
            args, fn = (fn.__self__, *args), fn.__func__
        elif not isinstance(fn, (types.FunctionType, types.BuiltinFunctionType, type)) and (
            isinstance(vars(type(fn)).get("__call__"), types.FunctionType)
        ):
            # A callable object: its class's __call__, with the object as an argument.
            args, fn = (fn, *args), vars(type(fn))["__call__"]
        else:
            break
    return fn, args, kwargs


def _stable(value: Any) -> str:
    fp = stable_fingerprint(value)
    return fp if fp is not None else repr(value)


# Code fingerprints per function object; the code object is kept to notice reassignment.
_identities: weakref.WeakKeyDictionary[Any, tuple[Any, str, str]] = weakref.WeakKeyDictionary()


def _identity(fn: Any) -> tuple[str, str]:
    code_obj = getattr(fn, "__code__", None)
    with contextlib.suppress(TypeError):  # not weak-referenceable (builtins): no cache
        cached = _identities.get(fn)
        if cached is not None and cached[0] is code_obj:
            return cached[1], cached[2]
    module = getattr(fn, "__module__", None) or type(fn).__module__
    name = f"{module}.{getattr(fn, '__qualname__', type(fn).__qualname__)}"
    code = code_digest(fn, opaque_by_type=True) if isinstance(fn, types.FunctionType) else "builtin"
    with contextlib.suppress(TypeError):
        _identities[fn] = (code_obj, name, code)
    return name, code
