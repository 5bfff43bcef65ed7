"""Kill storm: SIGKILL a real kernel at random instants while a multi-step notebook runs.

Each trial runs the four steps of a notebook (large arrays, a DataFrame, many small
objects, in-place mutation) with new code (version = trial number), kills the kernel
at a random instant, then checks in this process that the sidecar opens, that every
checkpoint loads with its hashes and signatures verified, and that each step holds
either its previous version or this trial's, never anything else. A fresh kernel then
runs `%mn_resume`, which must restore exactly the last good state: every value is
compared with a digest of the value recomputed here from the seeded generator.

Half the trials kill at a uniformly random instant of the whole run, half at a random
instant of one step's checkpoint write (after its body finished, before its row commits).
Checkpoints are written behind the cells (kernel/writer.py): that window runs from the end
of the body, past the cell's return (the step `checkpointing`, later steps already
running), to the commit; calibration times it by watching the sidecar.

    MN_FAULT_TRIALS=200 .venv/bin/pytest -p no:cacheprovider -m faults -s \
        tests/faults/test_fault_kill.py

runs the soak (default 20 trials, the CI version); MN_FAULT_SEED=N replays a seed.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mirrorneuron_nb.errors import CheckpointUnavailable, SidecarError
from mirrorneuron_nb.models import IN_FLIGHT, IN_FLIGHT_NAMES, StepStatus
from mirrorneuron_nb.store import Store, database_path
from mirrorneuron_nb.values import codec
from mirrorneuron_nb.values.signing import Binding

from ..helpers import run
from ..kernels import Kernel

pytestmark = [pytest.mark.kernel, pytest.mark.faults]

TRIALS = int(os.environ.get("MN_FAULT_TRIALS", "20"))
STEPS = ("arrays", "frame", "objects", "mutate")
# Which step's checkpoint holds each name last: resume restores that one.
WRITES = {
    "arrays": ("a", "b", "c", "small", "np", "ver_arrays"),
    "frame": ("df", "stats", "pd", "ver_frame"),
    "objects": ("records", "index", "tags", "pairs", "ver_objects"),
    "mutate": ("a", "records", "df", "label", "ver_mutate"),
}
OWNER = {name: step for step in STEPS for name in WRITES[step]}


def bodies(seed: int, v: int) -> dict[str, str]:
    """The step bodies of version v: every value is a function of (seed, v) alone."""
    return {
        "arrays": (
            "import numpy as np\n"
            f"rng = np.random.default_rng([{seed}, {v}])\n"
            "a = rng.standard_normal(2_500_000)\n"
            "b = rng.integers(0, 1_000, size=(1_000, 1_000))\n"
            f"c = np.full(300_000, {v}, dtype=np.int32)\n"
            f"small = np.arange(10) + {v}\n"
            "del rng\n"
            f"ver_arrays = {v}\n"
        ),
        "frame": (
            "import pandas as pd\n"
            f"df = pd.DataFrame({{'x': a[:300_000], 'g': b.ravel()[:300_000] % 17, 'v': {v}}})\n"
            "df['key'] = pd.Categorical(['k%d' % (i % 97) for i in range(300_000)])\n"
            "stats = df.groupby('g')['x'].agg(['mean', 'count'])\n"
            f"ver_frame = {v}\n"
        ),
        "objects": (
            f"records = [{{'id': i, 'v': {v}, 'name': 'r%d' % i, 'score': float(a[i])}}"
            " for i in range(50_000)]\n"
            "index = {r['name']: r['id'] for r in records[:20_000]}\n"
            f"tags = {{'t%d' % i for i in range({v} % 7, 50)}}\n"
            f"pairs = [(i, str(i * {v})) for i in range(20_000)]\n"
            f"ver_objects = {v}\n"
        ),
        "mutate": (
            "a *= 2\n"
            f"records.append({{'id': -1, 'v': {v}}})\n"
            f"df['y'] = df['x'] * {v}\n"
            f"label = 'version {v}'\n"
            f"ver_mutate = {v}\n"
        ),
    }


def cell(step: str, body: str) -> str:
    """The cell as the kernel runs it: markers tell the test where the step is."""
    return (
        f"%%mn_step {step}\nopen('start-{step}', 'w').close()\n"
        f"{body}open('done-{step}', 'w').close()\n"
    )


# Run in this process and in the kernel: the same canonical digest of a value.
DIGEST = """
def _mn_digest(x):
    import hashlib, types
    import numpy as np, pandas as pd
    h = hashlib.sha256(type(x).__name__.encode())
    if isinstance(x, types.ModuleType):
        h.update(x.__name__.encode())
    elif isinstance(x, np.ndarray):
        h.update(repr((x.dtype.str, x.shape)).encode())
        h.update(np.ascontiguousarray(x).tobytes())
    elif isinstance(x, pd.DataFrame):
        h.update(repr([list(x.columns), [str(t) for t in x.dtypes], list(x.index.names)]).encode())
        h.update(pd.util.hash_pandas_object(x, index=True).to_numpy().tobytes())
    elif isinstance(x, (set, frozenset)):
        h.update(repr(sorted(x)).encode())
    else:
        h.update(repr(x).encode())
    return h.hexdigest()
"""
_digest_ns: dict[str, Any] = {}
exec(DIGEST, _digest_ns)
digest_of = _digest_ns["_mn_digest"]


def expected_digests(seed: int, v: int) -> dict[str, dict[str, str]]:
    """Run version v's bodies here, in order, and digest what each step wrote."""
    ns: dict[str, Any] = {}
    out: dict[str, dict[str, str]] = {}
    for step, body in bodies(seed, v).items():
        exec(body, ns)
        out[step] = {name: digest_of(ns[name]) for name in WRITES[step]}
    return out


def wait_for(path: Path, context: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name} did not appear within {timeout} s ({context})")
        time.sleep(0.002)


def clear_markers(workdir: Path) -> None:
    for step in STEPS:
        for kind in ("start", "done"):
            (workdir / f"{kind}-{step}").unlink(missing_ok=True)


def check_sidecar(
    path: Path,
    committed: dict[str, int],
    trial: int,
    expected: dict[int, dict[str, dict[str, str]]],
    context: str,
) -> tuple[dict[str, int], dict[str, str]]:
    """After a kill: the sidecar opens, every checkpoint loads verified, and each step's
    current checkpoint is exactly its previous version or this trial's.

    Returns the version each step now holds and each step's stored status.
    """
    store = Store(path)  # what the next kernel does first
    try:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", context
        # Every checkpoint row a cache hit could serve: complete, hash- and signature-verified.
        ids = [r[0] for r in store.conn.execute("SELECT id FROM checkpoints")]
        loaded: dict[int, dict[str, Any]] = {}
        for checkpoint_id in ids:
            values = loaded[checkpoint_id] = {}
            checkpoint = store.checkpoint(checkpoint_id)
            assert checkpoint is not None
            place = Binding(store.sidecar_id(), checkpoint.step, "")
            for var in store.variables(checkpoint_id):
                assert var.error is None, (var, context)
                if var.serializer == codec.DELETED:
                    continue
                try:
                    values[var.name] = codec.load(store.blobs, var, {}, place.at(var.name))
                except CheckpointUnavailable as exc:
                    raise AssertionError(f"checkpoint {checkpoint_id}: {exc} ({context})") from None
        versions: dict[str, int] = {}
        statuses: dict[str, str] = {}
        for step in store.steps():
            statuses[step.name] = step.status.value
            # `interrupted`: killed in an earlier trial and not reached again in this one.
            # `running` / `checkpointing`: cut short by this kill (body / write-behind).
            good = (*IN_FLIGHT, StepStatus.succeeded, StepStatus.interrupted)
            assert step.status in good, (step, context)
            assert step.checkpoint_id is not None, (step, context)
            values = loaded[step.checkpoint_id]
            version = values[f"ver_{step.name}"]
            assert version in (committed[step.name], trial), (step.name, version, context)
            want = expected[version][step.name]
            got = {name: digest_of(values[name]) for name in WRITES[step.name]}
            assert got == want, (step.name, version, context)
            versions[step.name] = version
        del loaded
        assert set(versions) == set(STEPS), (statuses, context)
        # Steps run in order: a step holds this trial's version only if every earlier one does.
        new = [versions[s] == trial for s in STEPS]
        assert new == sorted(new, reverse=True), (versions, context)
        # The steps cut short (a body running, checkpoints written behind the cells) never
        # hold the new version, and the first step without it is one of them if any is:
        # checkpoints commit in step order.
        cut = [s for s in STEPS if statuses[s] in IN_FLIGHT_NAMES]
        pending = [s for s in STEPS if versions[s] != trial]
        assert set(cut) <= set(pending), (statuses, versions, context)
        if cut:
            assert pending[0] in cut, (statuses, versions, context)
        # Drop what is no longer needed (the next kernel would not either): blobs of
        # dropped checkpoints and temp files of killed writes. Current checkpoints stay.
        plan = store.gc(keep_runs=2)
        store.blobs.collect(plan.referenced, grace_seconds=0)
        return versions, statuses
    finally:
        store.close()


def phase_of(workdir: Path, versions: dict[str, int], statuses: dict[str, str], trial: int) -> str:
    """Where the kill landed, from the markers and what committed."""
    pending = [s for s in STEPS if versions[s] != trial]
    if not pending:
        return "after the last step"
    step = pending[0]
    if statuses[step] == StepStatus.checkpointing.value:
        return "write-behind"
    if (workdir / f"done-{step}").exists():
        return f"checkpoint write of {step}"
    if (workdir / f"start-{step}").exists():
        return f"body of {step}"
    return f"before the body of {step}"


def watch(
    workdir: Path, sidecar: Path, began: float, version: int, context: str, timeout: float = 180
) -> dict[str, float]:
    """When each step's body started and ended (its markers) and when its checkpoint of
    `version` committed (seen in the sidecar), in seconds after `began`."""
    marks: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(marks) < 3 * len(STEPS):
        assert time.monotonic() < deadline, (marks, context)
        now = time.monotonic() - began
        for step in STEPS:
            for kind in ("start", "done"):
                if f"{kind}-{step}" not in marks and (workdir / f"{kind}-{step}").exists():
                    marks[f"{kind}-{step}"] = now
        store = None
        if database_path(sidecar).exists():
            with contextlib.suppress(SidecarError):  # the kernel is creating it
                store = Store(sidecar, readonly=True)
        if store is not None:
            try:
                for step in STEPS:
                    row = store.step(step)
                    if (
                        f"commit-{step}" not in marks
                        and row is not None
                        and row.status is StepStatus.succeeded
                        and _version(store, row.checkpoint_id, step) == version
                    ):
                        marks[f"commit-{step}"] = now
            finally:
                store.close()
        time.sleep(0.005)
    return marks


def _version(store: Store, checkpoint_id: int | None, step: str) -> int | None:
    """The version a checkpoint holds (`ver_STEP` is a small inline value)."""
    if checkpoint_id is None:
        return None
    for var in store.variables(checkpoint_id):
        if var.name == f"ver_{step}":
            place = Binding(store.sidecar_id(), step, var.name)
            loaded = codec.load(store.blobs, var, {}, place)
            return loaded if isinstance(loaded, int) else None
    return None


def resumed_digests(kernel: Kernel) -> dict[str, str | None]:
    names = sorted(OWNER)
    code = (
        DIGEST
        + "import json as _json\n"
        + f"print(_json.dumps({{n: (_mn_digest(globals()[n]) if n in globals() else None)"
        f" for n in {names!r}}}))\n"
    )
    result: dict[str, str | None] = json.loads(run(kernel, code).stdout.strip().splitlines()[-1])
    return result


# A soak takes longer than the default 300 s; a trial takes ~20 s on a loaded 2-core VM.
@pytest.mark.timeout(180 + 40 * TRIALS)
def test_kill_storm_leaves_last_good_state(workdir: Path) -> None:
    seed = int(os.environ.get("MN_FAULT_SEED") or random.randrange(1 << 31))
    rng = random.Random(seed)
    sidecar = workdir / "mirrorneuron.mn"
    expected: dict[int, dict[str, dict[str, str]]] = {1: expected_digests(seed, 1)}
    tally: Counter[str] = Counter()
    kernel = Kernel(workdir)
    try:
        run(kernel, "%load_ext mirrorneuron_nb\nimport numpy, pandas")
        # Versions 0 (warm-up) and 1 run to completion: version 1 is the first good state,
        # and its run times each phase.
        for version in (0, 1):
            clear_markers(workdir)
            began = time.monotonic()
            for step, body in bodies(seed, version).items():
                kernel.start(cell(step, body))
            marks = watch(workdir, sidecar, began, version, f"seed={seed} calibration")
            run(kernel, "%mn_status")  # returns once every checkpoint is written
            total = time.monotonic() - began
        # A checkpoint write lasts from the end of its body to its commit (written behind
        # the cell, it overlaps the next steps).
        window = {step: marks[f"commit-{step}"] - marks[f"done-{step}"] for step in STEPS}
        committed = dict.fromkeys(STEPS, 1)
        for trial in range(2, TRIALS + 2):
            expected[trial] = expected_digests(seed, trial)
            for gone in set(expected) - {trial, *committed.values()}:
                del expected[gone]  # no step holds that version any more
            clear_markers(workdir)
            for step, body in bodies(seed, trial).items():
                kernel.start(cell(step, body))
            if rng.random() < 0.5:
                delay = rng.uniform(0, total)
                aim = "anywhere"
                context = f"seed={seed} trial={trial} kill {delay:.3f}s after sending the cells"
                time.sleep(delay)
            else:
                target = rng.choice(STEPS)
                delay = rng.uniform(0, window[target] * 1.2)
                aim = f"checkpoint of {target}"
                context = (
                    f"seed={seed} trial={trial} kill {delay:.3f}s after the body of {target} "
                    f"ended (its checkpoint write took {window[target]:.3f}s)"
                )
                wait_for(workdir / f"done-{target}", context)
                time.sleep(delay)
            kernel.kill()
            tally["kills"] += 1
            tally[f"aimed at {aim.split(' of ')[0]}"] += 1
            tally["orphan temp files"] += len(list(sidecar.glob("blobs/*/.tmp-*")))

            versions, statuses = check_sidecar(sidecar, committed, trial, expected, context)
            phase = phase_of(workdir, versions, statuses, trial)
            tally[f"landed: {phase}"] += 1
            print(f"kill storm trial {trial - 1}/{TRIALS}: {phase}; {statuses}", flush=True)
            tally["steps committed"] += sum(versions[s] == trial for s in STEPS)
            committed = versions

            kernel.revive()
            run(kernel, "%load_ext mirrorneuron_nb")
            report = run(kernel, "%mn_resume").stdout
            context += f"\n{report}"
            assert f"restored {len(OWNER)} variable(s) from 4 step(s)" in report, context
            assert "not restored" not in report, context
            for step, status in statuses.items():
                if status in IN_FLIGHT_NAMES:
                    assert (
                        f"step {step!r}: its last run is interrupted; "
                        "restored its last good checkpoint"
                    ) in report, context
            want = {n: expected[committed[OWNER[n]]][OWNER[n]][n] for n in OWNER}
            got = resumed_digests(kernel)
            wrong = sorted(n for n in OWNER if got[n] != want[n])
            assert not wrong, (wrong, committed, context)
            tally["values compared after resume"] += len(want)
            # Nothing is left in flight: the new kernel marked the killed steps interrupted.
            store = Store(sidecar, readonly=True)
            try:
                assert all(s.status not in IN_FLIGHT for s in store.steps()), context
            finally:
                store.close()
    finally:
        kernel.shutdown()
    summary = {"seed": seed, "trials": TRIALS, "values lost": 0, **dict(sorted(tally.items()))}
    print("kill storm:", json.dumps(summary))
    assert tally["kills"] == TRIALS
