"""Real-kernel tests of the lazy resume (kernel/lazy.py): large buffers come back mapped at
once and are hashed in the background; a blob found bad later is reported, logged and
never used; writes to a mapped value never reach its blob."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
import xxhash

from ..helpers import checks, fresh, run, sidecar
from ..kernels import Kernel

pytestmark = pytest.mark.kernel

# 4 MB: over codec.MMAP_MIN_BYTES, so the array comes back mapped.
BIG = "np.arange(500_000, dtype=np.float64)"
STEP = f"""%%mn_step load
import numpy as np
import pandas as pd
arr = {BIG}
df = pd.DataFrame({{'x': np.arange(300_000, dtype=np.int64), 'y': np.ones(300_000)}})
note = {{'rows': 3}}
"""


def _blob(workdir: Path) -> Path:
    """The blob file holding `arr`'s memory (its key is the digest of its bytes)."""
    key = xxhash.xxh3_128_hexdigest(np.arange(500_000, dtype=np.float64).tobytes())
    return sidecar(workdir) / "blobs" / key[:2] / key[2:]


def _events(workdir: Path, kind: str) -> list[tuple[str, str]]:
    with sqlite3.connect(sidecar(workdir) / "state.sqlite") as db:
        rows = db.execute("SELECT step, detail FROM events WHERE kind=?", (kind,)).fetchall()
    return [(str(step), str(detail)) for step, detail in rows]


def test_resume_maps_values_and_a_write_never_reaches_the_blob(
    kernel: Kernel, workdir: Path
) -> None:
    run(kernel, STEP)
    fresh(kernel)
    report = run(kernel, "%mn_resume").stdout
    assert "checking the blobs of" in report, report
    assert "not restored" not in report, report
    first = checks(
        kernel,
        f"""import mmap
base = arr
while getattr(base, 'base', None) is not None:
    base = base.base
base = base.obj if isinstance(base, memoryview) else base
checks = {{
    'mapped': isinstance(base, mmap.mmap),
    'arr': bool((arr == {BIG}).all()),
    'df': int(df['x'].sum()) == 299_999 * 300_000 // 2 and float(df['y'].sum()) == 300_000,
    'note': note == {{'rows': 3}},
}}
arr *= 2
checks['doubled'] = float(arr[-1]) == 999_998.0
""",
        as_bool=True,
    )
    assert all(first.values()), first
    assert _blob(workdir).is_file()
    assert np.array_equal(
        np.frombuffer(_blob(workdir).read_bytes(), dtype=np.float64),
        np.arange(500_000, dtype=np.float64),
    )

    fresh(kernel)
    run(kernel, "%mn_resume")
    again = checks(kernel, f"checks = {{'original': bool((arr == {BIG}).all())}}", as_bool=True)
    assert again == {"original": True}
    assert _events(workdir, "value_corrupt") == []


def test_a_blob_corrupted_before_resume_is_reported_logged_and_never_used(
    kernel: Kernel, workdir: Path
) -> None:
    run(kernel, STEP)
    fresh(kernel)
    blob = _blob(workdir)
    data = bytearray(blob.read_bytes())
    data[123_456] ^= 0xFF
    blob.write_bytes(bytes(data))

    resumed = run(kernel, "%mn_resume")
    assert "not restored" not in resumed.stdout, resumed.stdout  # bound at once: checked after

    # The next cell (a step) reads `arr`: it waits for the check (unless the resume cell's
    # end saw it fail already), which fails, so the cell never sees `arr`.
    out = kernel.run("%%mn_step use\ntotal = float(arr.sum())\n", check=False)
    shown = resumed.stderr + out.stderr
    lines = [line for line in shown.splitlines() if "background check" in line]
    assert len(lines) == 1, shown
    assert "'arr' (step 'load')" in lines[0] and "re-run step 'load'" in lines[0], lines
    assert "corrupted" in lines[0], lines
    assert out.error is not None and out.error["ename"] == "NameError", out.error

    state = checks(
        kernel,
        "checks = {'arr': 'arr' in globals(), 'df': 'df' in globals(), 'total': 'total' in "
        "globals(), 'df_ok': int(df['x'].sum()) == 299_999 * 300_000 // 2}",
    )
    assert state == {"arr": False, "df": True, "total": False, "df_ok": True}
    events = _events(workdir, "value_corrupt")
    assert len(events) == 1 and events[0][0] == "load" and '"arr"' in events[0][1], events
    assert not blob.exists()  # moved aside: the re-run writes a good one (test_fault_blobs)


# 100k small dicts: a group stream of a few MB, over loader.BACKGROUND_STREAM_BYTES.
OBJECTS = """%%mn_step objs
records = [{'i': i, 'name': f'r{i}'} for i in range(100_000)]
small = 3
"""


def _stream_blob(workdir: Path, name: str) -> Path:
    with sqlite3.connect(sidecar(workdir) / "state.sqlite") as db:
        (key,) = db.execute(
            "SELECT stream_blob FROM checkpoint_vars WHERE name=?", (name,)
        ).fetchone()
    return sidecar(workdir) / "blobs" / key[:2] / key[2:]


def test_big_pickles_load_in_the_background_and_bind_before_a_cell_uses_them(
    kernel: Kernel, workdir: Path
) -> None:
    run(kernel, OBJECTS)
    fresh(kernel)
    # The rest of the resuming cell waits for what it uses, as a next cell would.
    report = run(kernel, "%mn_resume\nn = len(records)").stdout
    assert "loading records in the background" in report, report
    assert "not restored" not in report, report
    got = checks(
        kernel,
        "checks = {'n': n, 'last': records[-1] == {'i': 99_999, 'name': 'r99999'}, 'small': small}",
    )
    assert got == {"n": 100_000, "last": True, "small": 3}

    # A cell that only binds the name waits for the load, so the load never overwrites it.
    fresh(kernel)
    run(kernel, "%mn_resume")
    run(kernel, "records = 'mine'")
    run(kernel, "pass")
    assert checks(kernel, "checks = {'records': records}") == {"records": "mine"}


def test_a_tampered_big_pickle_is_refused_before_anything_is_unpickled(
    kernel: Kernel, workdir: Path
) -> None:
    run(kernel, OBJECTS)
    fresh(kernel)
    blob = _stream_blob(workdir, "records")
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01
    blob.write_bytes(bytes(data))
    report = run(kernel, "%mn_resume").stdout
    assert "records (step objs)" in report and "corrupted" in report, report
    assert "loading records" not in report, report
    assert checks(kernel, "checks = {'records': 'records' in globals(), 'small': small}") == {
        "records": False,
        "small": 3,
    }
