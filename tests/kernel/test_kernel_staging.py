"""Freezing a step's big blobs (kernel/staging.py) in a real kernel: temp files are
written by a staging thread while the cell goes on, yet the cell returns only once they
are written; a big array found changed is frozen as soon as its digest is known, under the
key its checkpoint then uses (written once, not twice); a failed temp write is the cell's.

MIRRORNEURON_STAGE_DELAY (tests only) makes the staging thread sleep before each blob, so
a cell that did not wait for it would return first."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..helpers import checkpointed, sidecar, stored
from ..helpers import run as run_settled
from ..kernels import Kernel

pytestmark = pytest.mark.kernel

MB16 = 16_000_000


def run(kernel: Kernel, code: str) -> str:
    kernel.settle = False
    out = run_settled(kernel, code)
    return out.stderr


def big_blobs(workdir: Path) -> list[int]:
    """Sizes of the sidecar's blobs of 16 MB, and of any temp file left behind."""
    found = [p for p in (sidecar(workdir) / "blobs").rglob("*") if p.is_file()]
    assert not [p for p in found if p.name.startswith(".tmp-")], found
    return sorted(s for p in found if (s := p.stat().st_size) >= MB16)


def test_the_cell_returns_only_once_its_big_blobs_are_frozen(kernel: Kernel, workdir: Path) -> None:
    """`v` is a view of `a`: a cell writing through it names no value being written, so
    the read barrier lets it run at once. The checkpoint still holds the step's `a`."""
    run(kernel, "import os\nos.environ['MIRRORNEURON_STAGE_DELAY'] = '1'\ndel os")
    run(kernel, "import numpy as np\na = np.ones(2_000_000)\nv = a.reshape(1000, 2000)")
    run(kernel, "%%mn_step double\na *= 2\n")
    run(kernel, "v[:] = -1")
    run(kernel, "import mirrorneuron_nb as _m\n_m.flush()")
    assert stored(workdir, "double") == ("succeeded", 1)
    saved = checkpointed(workdir, "double", "a")
    assert float(saved.sum()) == 4_000_000.0  # type: ignore[attr-defined]


def test_a_changed_big_array_is_frozen_once_under_its_checkpoints_key(
    kernel: Kernel, workdir: Path
) -> None:
    run(
        kernel,
        "%%mn_step make\nimport numpy as np\na = np.arange(2_000_000, dtype=float)\n"
        "rows = [{'i': i} for i in range(50_000)]\n",
    )
    run(kernel, "%%mn_step change\na *= 2\nrows.append({'i': -1})\n")
    run(kernel, "import mirrorneuron_nb as _m\n_m.flush()")
    assert big_blobs(workdir) == [MB16, MB16]  # one per step: no second copy of `change`'s
    saved = checkpointed(workdir, "change", "a")
    assert float(saved[-1]) == 3_999_998.0  # type: ignore[index]


def test_a_failed_temp_write_is_reported_by_its_cell(kernel: Kernel, workdir: Path) -> None:
    """The staging thread's error (the file size limit) is raised in the cell: the step ran,
    its checkpoint was not written, the previous one is kept."""
    run(kernel, "%%mn_step big\nimport numpy as np\na = np.zeros(10)\n")
    run(kernel, "import mirrorneuron_nb as _m\n_m.flush()")
    run(
        kernel,
        "import resource, signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "_soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (8_000_000, _hard))\n",
    )
    err = run(kernel, "%%mn_step big\na = np.ones(2_000_000)\n")
    assert (
        "mn_step big: ran, but its checkpoint could not be written (OSError: [Errno 27] File "
        "too large); the previous checkpoint is kept" in err
    ), err
    assert stored(workdir, "big") == ("failed", 1)
    assert float(checkpointed(workdir, "big", "a").sum()) == 0.0  # type: ignore[attr-defined]
    assert big_blobs(workdir) == []
