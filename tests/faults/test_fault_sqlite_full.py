"""SQLite out of space, on a real small tmpfs: the cell says so in one line, the same way
as a full blob directory, the kernel keeps the values, and the next step works once space
is back (a failed COMMIT leaves no transaction open)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..helpers import fresh, run, value
from ..kernels import Kernel

pytestmark = [pytest.mark.kernel, pytest.mark.faults]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip() or 'not root'})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(ballast: Path) -> str:
    """Step-body lines that fill the disk with a ballast file."""
    return (
        "import os as _os\n"
        f"_fd = _os.open({str(ballast)!r}, _os.O_WRONLY | _os.O_CREAT)\n"
        "try:\n"
        "    while True:\n"
        "        _os.write(_fd, b'0' * 4096)\n"
        "except OSError:\n"
        "    pass\n"
        "_os.close(_fd)\n"
        "del _fd, _os\n"
    )


def test_a_full_database_warns_keeps_values_and_the_next_step_works(
    small_disk: Path, workdir: Path
) -> None:
    ballast = small_disk / f"ballast-{uuid.uuid4().hex}"
    kernel = Kernel(workdir, env={"MIRRORNEURON_SIDECAR": str(small_disk / "nb.mn")})
    try:
        run(kernel, "%load_ext mirrorneuron_nb")
        run(kernel, "%%mn_step first\nfirst = [1, 2, 3]\n")
        # The body fills the disk: its small values would go into the database.
        out = kernel.run("%%mn_step full\nkept = {'a': 1}\n" + fill(ballast), check=False)
        assert out.error is None, out.error
        line = next(x for x in out.stderr.splitlines() if x.startswith("mn_step full:"))
        assert line == out.stderr.strip(), out.stderr  # one line, no traceback
        assert "ran, but its checkpoint could not be written" in line, line
        assert "no space left" in line and "the previous checkpoint is kept" in line, line
        assert value(kernel, "kept") == "{'a': 1}"

        ballast.unlink()
        out = run(kernel, "%%mn_step after\nafter = 42\n")
        assert out.error is None and not out.stderr, out.stderr
        fresh(kernel)
        report = run(kernel, "%mn_resume").stdout
        # `full` could record nothing, not even its failure: a fresh kernel finds it
        # interrupted, and everything else.
        assert "restored 2 variable(s) from 2 step(s)" in report, report
        assert "step 'full' not restored: its last run is interrupted" in report, report
        assert value(kernel, "(first, after)") == "([1, 2, 3], 42)"
    finally:
        kernel.shutdown()
