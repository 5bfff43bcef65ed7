"""Checkpoint a step whose attempt succeeded: what it bound, and its outputs (written
behind the cell by writer.py)."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import traceback
import types
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput, NotCheckpointable, SidecarFull, one_line
from ..models import STATE_VARIABLE, Claimant, NewCheckpoint, VarEntry
from ..store.blob_backend import Blobs
from ..values import codec, groups, libstate
from ..values.canonical import BufferDigests
from ..values.fingerprint import is_immutable
from ..values.serializers import buffer_keys, snapshot, type_name
from ..values.signing import Binding, checkpoint_signature
from . import constants
from .attempts import Ran
from .jobs import Claim, Job
from .plan import StepPlan
from .session import KernelSession
from .staging import StagingBlobs


@dataclass(frozen=True)
class StepResult:
    """What a step did: ran or served from a checkpoint, and which variables it holds."""

    name: str
    cached: bool
    value: Any = None
    saved: list[str] = field(default_factory=list)
    unsaved: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Written:
    """The checkpoint's variable rows and the blobs they use, from the namespace."""

    variables: list[VarEntry]
    blobs: list[tuple[str, int]]
    saved: list[str]
    unsaved: list[tuple[str, str]]
    groups: list[tuple[dict[str, Any], frozenset[int]]]
    """The values saved together, by name, and what they reach (for the sharing index)."""


def commit(
    session: KernelSession,
    plan: StepPlan,
    ran: Ran,
    before: dict[str, int],
    state_before: libstate.Reading,
) -> StepResult:
    """Checkpoint a successful attempt: its variables, the library state it changed
    (`state_before`: the reading taken before its body) and its outputs.

    Everything is serialized here (big buffers kept as views of live memory, or frozen:
    staging.py); what must reach the disk is then written behind the cell by the writer
    (writer.py), the step `checkpointing` until it commits.
    A checkpoint with nothing new to write, while the writer is idle, commits here."""
    __tracebackhide__ = True
    store, name = session.store, plan.name
    outputs = list(ran.recorder.outputs)
    if ran.value is not None:
        data, metadata = session.shell.display_formatter.format(ran.value)
        outputs.append({"output_type": "display_data", "data": data, "metadata": metadata})
    staged: StagingBlobs | None = None
    waited: Job | None = None
    try:
        # Any backend, local or remote; big blobs written from live memory unless a
        # thread of the notebook's may write into them meanwhile (staging.py).
        staged = session.writer.staging(store.blobs, live=session.known.quiet)
        target: Blobs = staged
        place = Binding(store.sidecar_id(), name, "")
        names, snaps = _written_names(session, plan, before)
        written = _checkpoint_variables(session, target, place, names, snaps, plan.reads_only)
        state = _library_state(session, target, place, state_before)
        if state is not None:
            written.variables.append(state[0])
            written.blobs.extend(state[1])
        new = _new_checkpoint(plan, place, ran.duration, outputs, written)
        if not staged.frozen and session.writer.idle():
            # Nothing new to make durable and nothing ahead of it: commit now.
            session.writer.discard(staged)
            store.commit_checkpoint(ran.attempt, new)
            session.heartbeat.drop(name)  # the commit released the lease
        else:
            store.mark_checkpointing(ran.attempt, [v.name for v in written.variables])
            waits = bool(staged.through or session.batch)
            job = session.writer.submit(
                ran.attempt, new, staged, _modules(session, names), behind=not waits
            )
            if waits:
                # Past the pending-bytes bound: written through. A batch run reports each
                # step's outcome from the sidecar as its cell ends, and its kernel is
                # stopped with a short grace period: there, each cell waits too.
                session.writer.landed(job)
                waited = job
    except BaseException as exc:
        if staged is not None:
            session.writer.discard(staged)
        # Whatever failed while checkpointing, the attempt gets an outcome, and the values
        # the body produced stay in the kernel. A full disk is full for the database too:
        # then nothing can be recorded, and the kernel's next open marks it interrupted.
        full = isinstance(exc, (OSError, SidecarFull))
        with contextlib.suppress(*((SidecarFull,) if full else ())):
            store.fail_attempt(
                ran.attempt,
                f"checkpoint not written: {one_line(exc)}",
                "".join(traceback.format_exception(exc)),
            )
        if not full:
            raise
        print(
            f"mn_step {name}: ran, but its checkpoint could not be written "
            f"({one_line(exc)}); the previous checkpoint is kept",
            file=sys.stderr,
        )
        return StepResult(name, cached=False, value=ran.value)
    if waited is not None:
        session.writer.reraise(waited)  # (recorded by the writer already)
    _report(session, name, written)
    return StepResult(name, False, ran.value, written.saved, written.unsaved)


def commit_at_once(
    session: KernelSession, plan: StepPlan, who: Claimant, duration: float, bound: frozenset[str]
) -> StepResult:
    """Checkpoint an inert body (inert.py) that ran before its step was claimed: the writer
    takes the lease, begins the attempt and commits the checkpoint in one transaction,
    behind the cell (writer.py), after every checkpoint queued before it. Should another
    process take the step in between, the next cell says so and nothing of this run is
    recorded; its values stay, as a plain cell's (Claim.denied). `bound`: the names it
    binds, all it can change (no namespace-wide comparison: a namespace holds every
    cell's `_iN`)."""
    store, name = session.store, plan.name
    claim = Claim(plan.run_id, plan.start, who)
    ns = session.shell.user_ns
    names = sorted(n for n in bound if not session.hidden(n))
    values = {n: ns[n] for n in names}
    place = Binding(store.sidecar_id(), name, "")
    through = 0
    if constants.deferrable(values):  # nothing to freeze: built behind the cell too
        made = functools.partial(constants.build, plan, place, duration, values)
        job = session.writer.submit_built(claim, made, store.blobs, frozenset(names))
        written = Written([], [], names, [], [])
    else:
        staged = session.writer.staging(store.blobs, live=session.known.quiet)
        try:
            written = _checkpoint_variables(session, staged, place, names, {}, plan.reads_only)
            new = _new_checkpoint(plan, place, duration, [], written)
            waits = bool(staged.through or session.batch)
            job = session.writer.submit(
                claim, new, staged, _modules(session, names), behind=not waits
            )
        except BaseException:
            session.writer.discard(staged)
            raise
        through = staged.through
    if through or session.batch:  # as commit(): a batch run reports from the sidecar
        session.writer.landed(job)
        session.writer.reraise(job)
    _report(session, name, written)
    return StepResult(name, False, None, written.saved, written.unsaved)


def _modules(session: KernelSession, names: list[str]) -> frozenset[str]:
    """The names bound to modules: saved as their import names, a cell using one sees
    nothing of a pending checkpoint, so it is not ordered after it (barrier.py; else a
    cell calling `np.zeros` waits for the fsync of the step's 200 MB array)."""
    ns = session.shell.user_ns
    return frozenset(n for n in names if isinstance(ns.get(n), types.ModuleType))


def _new_checkpoint(
    plan: StepPlan, place: Binding, duration: float, outputs: list[Any], written: Written
) -> NewCheckpoint:
    """The checkpoint row of what a step wrote, signed as a cache hit reads it back: the
    outputs through JSON."""
    signature = checkpoint_signature(
        place.sidecar,
        plan.name,
        plan.cache_key,
        plan.start.code_hash,
        json.loads(json.dumps(outputs)),
        written.variables,
    )
    return NewCheckpoint(
        cache_key=plan.cache_key,
        code_hash=plan.start.code_hash,
        duration=duration,
        inputs=plan.inputs,
        outputs=outputs,
        variables=written.variables,
        new_blobs=written.blobs,
        signature=signature,
    )


def _report(session: KernelSession, name: str, written: Written) -> None:
    """Remember which variables share objects; name each value that was not checkpointed."""
    for members, reached in written.groups:
        session.sharing.record(members, reached)
    for var_name, reason in written.unsaved:
        print(
            f"mn_step {name}: {var_name!r} was not checkpointed ({reason}); "
            f"re-run step {name!r} after a restart to get it back",
            file=sys.stderr,
        )


def _written_names(
    session: KernelSession, plan: StepPlan, before: dict[str, int]
) -> tuple[list[str], dict[str, tuple[str, BufferDigests]]]:
    """The names the step bound, rebound, deleted or mutated, and the fingerprints taken
    while finding mutations (so a mutated value is not fingerprinted twice), with the
    array digests they took (so its snapshot does not hash those arrays again)."""
    ns: dict[str, Any] = session.shell.user_ns
    outputs = plan.options.outputs
    if outputs is not None:
        missing = [n for n in outputs if n not in ns]
        if missing:
            raise InvalidInput(f"--outputs names undefined variable(s): {', '.join(missing)}")
        return list(outputs), {}
    changed = {k for k, v in ns.items() if before.get(k) != id(v)}
    changed |= {k for k in plan.analysis.writes if k in ns}
    changed |= {k for k in before if k not in ns}  # deleted by the step
    # Names read but not rebound may have been mutated in place: compare fingerprints
    # (a value with no stable fingerprint compares by identity: rebinding is all we see).
    taken: dict[str, tuple[str, BufferDigests]] = {}
    for name, fp in plan.inputs.items():
        if name in changed or name not in ns or is_immutable(ns[name]):
            continue
        if plan.reads_only and session.known.holds(name, ns[name]):
            continue  # the body cannot have written into it (known.py)
        digests: BufferDigests = {}
        now = session.known.after_body(name, ns[name], digests)
        if now != fp:
            changed.add(name)
            taken[name] = (now, digests)
    return sorted(n for n in changed if not session.hidden(n)), taken


def _checkpoint_variables(
    session: KernelSession,
    blobs: Blobs,
    place: Binding,
    names: list[str],
    taken: dict[str, tuple[str, BufferDigests]],
    plan_reads_only: bool = False,
) -> Written:
    """The step's variables, and every variable that shares objects with them
    (sharing.py), in groups of the values that share objects: what they share comes back
    shared. Each value's row
    records its content fingerprint (the one a reading step computes, in this kernel or
    after a restore), not a digest of the bytes stored."""
    ns: dict[str, Any] = session.shell.user_ns
    variables = [codec.deleted(n) for n in names if n not in ns]
    present = [n for n in names if n in ns]
    partners, reaches = session.sharing.partners(present, ns)
    members = present + sorted(n for n in partners if not session.hidden(n))
    # Fingerprints first: what they find decides how a value is saved (groups.dump).
    known: BufferDigests = {}
    prints: dict[str, str] = {}
    for name in members:
        fp, digests = taken.get(name, (None, None))
        if fp is None or digests is None:
            fp = session.known.after_body(name, ns[name], known, reads_only=plan_reads_only)
        else:
            known.update(digests)
        prints[name] = fp
    # One group per set of values that share objects: a value shares a stream (and a
    # damaged blob's fate) only with what it must.
    dumps: list[groups.GroupDump] = []
    failed: dict[str, str] = {}
    sets = session.sharing.components({n: reaches[n] for n in members}, ns)
    for names_ in sets:
        plain = [n for n in names_ if session.known.plain(n, ns[n])]
        made, why = groups.dump_saveable({n: ns[n] for n in names_}, codec.too_large, plain)
        dumps.extend(made)
        failed.update(why)
    unsaved = [(n, failed[n]) for n in members if n in failed]
    variables.extend(codec.unsaved(n, type_name(ns[n]), why) for n, why in unsaved)
    saved = [n for n in members if n not in failed]
    used: list[tuple[str, int]] = []
    made_groups: list[tuple[dict[str, Any], frozenset[int]]] = []
    for dumped in dumps:
        entries = [
            codec.Member(n, type_name(ns[n]), prints[n], cosaved=n in partners)
            for n in dumped.sizes
        ]
        keys = buffer_keys(dumped.buffers, known)
        rows, new_blobs = codec.save_group(blobs, dumped, entries, keys, place)
        variables.extend(rows)
        used.extend(new_blobs)
        reached = frozenset().union(*(reaches[n] for n in dumped.sizes))
        made_groups.append(({n: ns[n] for n in dumped.sizes}, reached))
    return Written(variables, used, saved, unsaved, made_groups)


def _library_state(
    session: KernelSession, blobs: Blobs, place: Binding, before: libstate.Reading
) -> tuple[VarEntry, list[tuple[str, int]]] | None:
    """The library state the body changed, as the checkpoint's state variable (None when it
    changed none). State that cannot be saved is named in the cell, never fatal."""
    if not before:
        return None  # not read: the body ran no code that could change any (runner.py)
    changes = libstate.changes_since(before)
    if not changes:
        return None
    step = place.step
    try:
        snap = snapshot(changes)
        return codec.save(blobs, place.at(STATE_VARIABLE), snap, snap.fingerprint)
    except NotCheckpointable as exc:
        print(
            f"mn_step {step}: library state it changed ({libstate.describe(changes)}) was not "
            f"checkpointed ({exc}); re-run step {step!r} after a restart to set it again",
            file=sys.stderr,
        )
        return None
