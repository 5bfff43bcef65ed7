"""Big arrays written from a forked snapshot of the kernel (kernel/snapshot.py), in a
real kernel: a later cell touching the array does not wait for its write, what lands is
the array as the step left it whatever changes it afterwards, a shared mapping (which a
fork does not snapshot) is still written from live memory behind the read barrier, and
the child dies with the kernel.

MIRRORNEURON_WRITER_DELAY (tests only) makes the writer, and the snapshot's child, sleep
before writing: the window between the cell's return and the write is seconds wide.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from ..helpers import checkpointed, sidecar, stored, value
from ..kernels import Kernel
from .test_kernel_writebehind import delay, flush, run

pytestmark = pytest.mark.kernel

N = 3_000_000
"""float64: 24 MB, over snapshot.SNAPSHOT_BYTES."""
BIG_STEP = f"%%mn_step load\nimport numpy as np\na = np.arange({N}, dtype=float)\n"


def written_yet(kernel: Kernel, workdir: Path) -> str:
    """Run in the kernel: whether a file in the sidecar holds the array's bytes yet."""
    return value(
        kernel,
        f"any(p.stat().st_size >= {N * 8} for p in __import__('pathlib').Path("
        f"{str(sidecar(workdir))!r}).rglob('*') if p.is_file())",
    )


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def assert_landed_as_the_step_left_it(workdir: Path) -> None:
    assert stored(workdir, "load") == ("succeeded", 1)
    saved = checkpointed(workdir, "load", "a")
    assert isinstance(saved, np.ndarray)
    assert np.array_equal(saved, np.arange(N, dtype=float))


@pytest.mark.parametrize("snapshot", ["1", "0"])
def test_a_cell_changing_a_big_array_goes_on_before_its_write(
    kernel: Kernel, workdir: Path, snapshot: str
) -> None:
    """With the snapshot (the default) the next cell changes the array before a byte of
    it is written, yet the step's array lands; with MIRRORNEURON_SNAPSHOT=0 that cell
    waits until the array is written from live memory (the read barrier), as before."""
    run(kernel, f"import os\nos.environ['MIRRORNEURON_SNAPSHOT'] = '{snapshot}'\ndel os")
    delay(kernel, 3)
    run(kernel, BIG_STEP)
    assert stored(workdir, "load") == ("checkpointing", 0)
    run(kernel, "a[:] = -1.0")
    assert written_yet(kernel, workdir) == ("False" if snapshot == "1" else "True")
    assert "could not be written" not in flush(kernel)
    assert_landed_as_the_step_left_it(workdir)
    assert value(kernel, "float(a.sum())") == str(-float(N))


def test_an_array_changed_by_code_no_cell_names_lands_as_the_step_left_it(
    kernel: Kernel, workdir: Path
) -> None:
    """A view kept where no analysis looks (a module's attribute) is written into right
    after the step: from live memory that failed the checkpoint (the bytes no longer
    hashed to the step's digest); the snapshot holds the array as the step left it."""
    delay(kernel, 3)
    run(
        kernel,
        BIG_STEP.replace("import numpy as np\n", "import numpy as np, json\n")
        + "json._kept = a[:]\n",
    )
    run(kernel, "import json\njson._kept[:] = -1\n")  # names no pending value: no wait
    assert "could not be written" not in flush(kernel)
    assert_landed_as_the_step_left_it(workdir)


def test_an_interrupt_of_the_kernel_does_not_stop_the_snapshots_writer(
    kernel: Kernel, workdir: Path
) -> None:
    """Jupyter interrupts the kernel's whole process group: the child, still to write,
    ignores it (were it stopped, the writer would write from live memory, which the next
    cell changed: a failed checkpoint)."""
    delay(kernel, 3)
    run(kernel, BIG_STEP)
    run(kernel, "a[:] = -1.0")
    kernel.km.interrupt_kernel()
    run(kernel, "import time\ntime.sleep(0.5)")
    assert "could not be written" not in flush(kernel)
    assert_landed_as_the_step_left_it(workdir)


def test_a_snapshot_holding_more_memory_than_the_bound_allows_is_dropped(
    kernel: Kernel, workdir: Path
) -> None:
    """A cell rewrites a 160 MB array while the child waits to write 24 MB: every page
    it writes is copied, left to the child alone. Past the pending-bytes bound the child
    is stopped at once, and the writer writes the step's array from live memory (which
    no cell changed): the checkpoint lands all the same."""
    run(kernel, "import os\nos.environ['MIRRORNEURON_PENDING_BYTES'] = '30000000'\ndel os")
    run(kernel, "import numpy as np\nb = np.ones(20_000_000)")
    delay(kernel, 30)
    run(kernel, BIG_STEP)
    writing = children(kernel.pid)
    assert writing, "no child writes the snapshot"
    run(kernel, "b *= 2")
    deadline = time.monotonic() + 10  # (the child would wait 30 s before writing)
    while alive := [p for p in writing if Path(f"/proc/{p}").exists()]:
        assert time.monotonic() < deadline, f"the child kept its copies: {alive}"
        time.sleep(0.1)
    assert "could not be written" not in flush(kernel)
    assert_landed_as_the_step_left_it(workdir)


def test_shared_memory_is_written_from_live_memory_and_its_reader_waits(
    kernel: Kernel, workdir: Path
) -> None:
    """A fork shares the pages of a MAP_SHARED mapping (an array over shared memory, as
    multiprocessing makes): a change after the fork would reach the child's write. Such
    an array is written from live memory, and a cell changing it waits for that."""
    delay(kernel, 3)
    run(
        kernel,
        "%%mn_step load\nimport mmap, numpy as np\n"
        f"a = np.frombuffer(mmap.mmap(-1, {N * 8}), dtype=float)\n"
        f"a[:] = np.arange({N}, dtype=float)\n",
    )
    run(kernel, "a[:] = -1.0")
    assert written_yet(kernel, workdir) == "True"
    assert "could not be written" not in flush(kernel)
    assert_landed_as_the_step_left_it(workdir)


def test_the_snapshots_child_dies_with_a_killed_kernel(kernel: Kernel, workdir: Path) -> None:
    """SIGKILL to the kernel alone (an OOM kill): its child, still waiting to write, goes
    too, and the previous checkpoint stays."""
    run(kernel, "%%mn_step load\nimport numpy as np\na = np.zeros(10)\n")
    flush(kernel)
    delay(kernel, 60)
    run(kernel, BIG_STEP)
    writing = children(kernel.pid)
    assert writing, "no child writes the snapshot"
    kernel.kill()
    deadline = time.monotonic() + 20
    while alive := [p for p in writing if Path(f"/proc/{p}").exists()]:
        assert time.monotonic() < deadline, f"the child outlived its kernel: {alive}"
        time.sleep(0.1)
    kernel.revive()
    run(kernel, "%load_ext mirrorneuron_nb")
    run(kernel, "%mn_resume")
    assert value(kernel, "a.tolist()") == str([0.0] * 10)
    assert stored(workdir, "load") == ("interrupted", 1)
