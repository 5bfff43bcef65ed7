"""A blob corrupted or deleted on disk: resume detects it by its hash (a mapped array's in
the background, before any cell reads it), names the value and the step to re-run,
restores everything else; re-running the step repairs the checkpoint.

(A cache hit on a corrupted checkpoint running the step instead is in test_kernel_cache.py.)
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from mirrorneuron_nb.store import Store

from ..helpers import mn, not_restored, run, value
from ..kernels import Kernel
from ..messages import RESTORED, UNUSABLE

pytestmark = [pytest.mark.kernel, pytest.mark.faults]

CELLS = {
    # an 8 MB array: a raw buffer blob
    "load": "import numpy as np\narr = np.arange(1_000_000, dtype=np.float64) * 3\n"
    "meta = {'rows': 1_000_000}\n",
    # a pickle stream over 256 KB: a stream blob
    "words": "words = ['w%d' % i for i in range(60_000)]\ncount = len(words)\n",
    # DataFrame blocks: buffer blobs of a pickled value
    "frame": "import pandas as pd\n"
    "df = pd.DataFrame({'x': arr[:200_000], 'y': arr[:200_000] + 1})\n",
}
CHECK = (
    "(float(arr[-1]), meta, len(words), words[-1], count, float(df['y'].sum()),"
    " np.__name__, pd.__name__)"
)
GOOD = "(2999997.0, {'rows': 1000000}, 60000, 'w59999', 60000, 59999900000.0, 'numpy', 'pandas')"


def cell(step: str) -> str:
    return f"%%mn_step {step}\n{CELLS[step]}"


def mn_status(notebook: Path) -> str:
    result = mn("status", str(notebook), timeout=120)
    assert result.returncode == 0 and not result.stderr, result.stderr
    return result.stdout


def blob_of(sidecar: Path, step: str, name: str, stream: bool) -> str:
    store = Store(sidecar, readonly=True)
    try:
        found = store.step(step)
        assert found is not None and found.checkpoint_id is not None
        var = next(v for v in store.variables(found.checkpoint_id) if v.name == name)
        key = var.stream_blob if stream else var.buffers[0][0]
        assert key is not None, var
        return key
    finally:
        store.close()


def test_damaged_blobs_are_named_at_resume_and_repaired_by_rerunning(workdir: Path) -> None:
    notebook = workdir / "nb.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(cell(s)) for s in CELLS]), notebook)
    sidecar = workdir / "nb.mn"
    kernel = Kernel(workdir, env={"JPY_SESSION_NAME": str(notebook)})
    try:
        run(kernel, "%load_ext mirrorneuron_nb")
        for step in CELLS:
            run(kernel, cell(step))
        assert value(kernel, CHECK) == GOOD

        # One buffer blob corrupted in place (same size), one stream blob deleted.
        corrupted = blob_of(sidecar, "load", "arr", stream=False)
        deleted = blob_of(sidecar, "words", "words", stream=True)
        path = sidecar / "blobs" / corrupted[:2] / corrupted[2:]
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        (sidecar / "blobs" / deleted[:2] / deleted[2:]).unlink()

        kernel.restart()
        run(kernel, "%load_ext mirrorneuron_nb")
        resumed = run(kernel, "%mn_resume")
        report = resumed.stdout
        missing = not_restored(report)
        assert set(missing) == {"words"}, report
        assert deleted in missing["words"] and "missing" in missing["words"], report
        assert missing["words"].endswith("-> re-run step 'words'"), report
        # The mapped array is bound at once and hashed in the background (kernel/lazy.py):
        # a cell that reads it waits for that check, which fails, so it never sees it.
        assert "restored 6 variable(s) from 3 step(s)" in report, report
        later = kernel.run("arr", check=False)
        assert later.error is not None and later.error["ename"] == "NameError", later.error
        shown = [ln for ln in (resumed.stderr + later.stderr).splitlines() if "'arr'" in ln]
        assert len(shown) == 1, resumed.stderr + later.stderr
        assert shown[0].startswith("mn_resume: 'arr' (step 'load') failed its background check")
        assert corrupted in shown[0] and "corrupted" in shown[0], shown
        assert shown[0].endswith("-> re-run step 'load'"), shown
        # Everything else came back, with its value; the damaged names are not bound at all.
        assert value(kernel, "(meta, count, float(df['y'].sum()), np.__name__)") == (
            "({'rows': 1000000}, 60000, 59999900000.0, 'numpy')"
        )
        assert value(kernel, "[n for n in ('arr', 'words') if n in globals()]") == "[]"
        # The CLI still reads the sidecar (it does not read blob data).
        table = mn_status(notebook)
        assert all(f"{s} " in table for s in CELLS), table

        # Re-running the named steps (same code: a cache hit on a damaged checkpoint) runs
        # them and writes whole blobs again, not reusing the damaged file.
        for step in ("load", "words"):
            out = run(kernel, cell(step))
            assert UNUSABLE in out.stderr, out.stderr
            assert RESTORED not in out.notes, out.notes
        table = mn_status(notebook)
        for step in CELLS:
            row = next(line for line in table.splitlines() if line.startswith(f"{step} "))
            assert " succeeded " in row or " cached " in row, table

        kernel.restart()
        run(kernel, "%load_ext mirrorneuron_nb")
        report = run(kernel, "%mn_resume").stdout
        assert "not restored" not in report, report
        assert value(kernel, CHECK) == GOOD
    finally:
        kernel.shutdown()
