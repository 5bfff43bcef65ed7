"""Checkpoints that cannot be written: a write error (a file size limit, like a full disk)
and a value over MIRRORNEURON_MAX_VALUE_BYTES. The cell's values stay in the kernel, the
failure is named, the kernel keeps working, and what was checkpointed before stays usable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mirrorneuron_nb.errors import InvalidInput
from mirrorneuron_nb.store import Store
from mirrorneuron_nb.values import codec

from ..helpers import run, value
from ..kernels import Kernel

pytestmark = [pytest.mark.kernel, pytest.mark.faults]

LIMIT = 8_000_000  # bytes any file of the kernel may reach


def big_step(version: int, n: int) -> str:
    return (
        f"%%mn_step big\nimport numpy as np\nbig = np.full({n}, {version}.0)\nversion = {version}\n"
    )


def test_a_failed_checkpoint_write_keeps_values_kernel_and_previous_checkpoint(
    kernel: Kernel, workdir: Path
) -> None:
    sidecar = workdir / "mirrorneuron.mn"
    run(kernel, big_step(1, 200_000))  # 1.6 MB: written
    # Every file the kernel writes may grow to LIMIT at most: a 16 MB blob fails with EFBIG
    # (SIGXFSZ ignored, as a full disk fails with ENOSPC rather than a signal).
    run(
        kernel,
        "import resource, signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "_soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({LIMIT}, _hard))\n",
    )
    out = run(kernel, big_step(2, 2_000_000))
    assert out.error is None
    assert "mn_step big: ran, but its checkpoint could not be written" in out.stderr, out.stderr
    assert "File too large" in out.stderr and "the previous checkpoint is kept" in out.stderr
    # The cell's result stays in the kernel.
    assert value(kernel, "(float(big[-1]), big.size, version)") == "(2.0, 2000000, 2)"

    store = Store(sidecar, readonly=True)
    try:
        step = store.step("big")
        assert step is not None and step.status.value == "failed", step
        assert step.error is not None and step.error.startswith("checkpoint not written: OSError")
        last = store.attempts("big")[-1]
        assert last.status == "failed", last
        assert (last.error or "").startswith("checkpoint not written: OSError: [Errno 27]"), last
        assert step.checkpoint_id is not None
        kept = {v.name: v for v in store.variables(step.checkpoint_id)}
        assert kept["big"].buffers[0][1] == 200_000 * 8  # still the first checkpoint
    finally:
        store.close()
    # A failed blob write leaves no temporary file behind.
    assert not list(sidecar.glob("blobs/*/.tmp-*"))

    # The kernel survives and keeps working under the limit, checkpoints included.
    run(kernel, "%%mn_step after\nsmall = [1, 2, 3]\n")
    assert value(kernel, "(small, 6 * 7)") == "([1, 2, 3], 42)"
    run(kernel, "resource.setrlimit(resource.RLIMIT_FSIZE, (_hard, _hard))")

    kernel.restart()
    run(kernel, "%load_ext mirrorneuron_nb")
    report = run(kernel, "%mn_resume").stdout
    assert "step 'big': its last run is failed; restored its last good checkpoint" in report
    assert "not restored" not in report, report
    assert value(kernel, "(float(big[-1]), big.size, version, small)") == (
        "(1.0, 200000, 1, [1, 2, 3])"
    )


MIXED = """%%mn_step mixed
import numpy as np
huge = np.zeros(500_000)
fine = np.arange(1_000)
words = ['w%d' % i for i in range(100)]
gen = (i for i in range(3))
"""


def test_a_value_over_the_size_limit_is_named_and_the_rest_is_saved(
    workdir: Path, hermetic: Path
) -> None:
    sidecar = workdir / "mirrorneuron.mn"
    limit = "over the size limit of 1000000 bytes: set MIRRORNEURON_MAX_VALUE_BYTES to raise it"
    kernel = Kernel(workdir, env={"MIRRORNEURON_MAX_VALUE_BYTES": "1000000"})
    try:
        run(kernel, "%load_ext mirrorneuron_nb")
        out = run(kernel, MIXED)
        # The serialized size (4 MB of data plus a small header), then the limit.
        found = re.search(rf"'huge' was not checkpointed \((\d+) bytes, {limit}\)", out.stderr)
        assert found and int(found[1]) > 4_000_000, out.stderr
        reason = f"{found[1]} bytes, {limit}"
        assert "'gen' was not checkpointed (TypeError" in out.stderr, out.stderr
        assert value(kernel, "(huge.size, len(words))") == "(500000, 100)"  # still in the kernel

        store = Store(sidecar, readonly=True)
        try:
            step = store.step("mixed")
            assert step is not None and step.status.value == "succeeded"
            assert step.checkpoint_id is not None
            stored = {v.name: v for v in store.variables(step.checkpoint_id)}
        finally:
            store.close()
        assert stored["huge"].error == reason and not stored["huge"].buffers
        assert {n for n, v in stored.items() if v.saved} == {"np", "fine", "words"}
        # Nothing of the huge value reached the disk.
        assert max(p.stat().st_size for p in sidecar.rglob("*") if p.is_file()) < 1_000_000

        kernel.restart()
        run(kernel, "%load_ext mirrorneuron_nb")
        report = run(kernel, "%mn_resume").stdout
        assert f"  huge (step mixed): {reason} -> re-run step 'mixed'" in report, report
        assert "  gen (step mixed): TypeError" in report, report
        assert "restored 3 variable(s)" in report, report
        assert value(kernel, "(int(fine.sum()), words[-1], 'huge' in globals())") == (
            "(499500, 'w99', False)"
        )
    finally:
        kernel.shutdown()


@pytest.mark.parametrize("raw", ["lots", "0", "-5", "1.5e6"])
def test_a_bad_size_limit_is_refused_with_one_line(
    raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIRRORNEURON_MAX_VALUE_BYTES", raw)
    with pytest.raises(InvalidInput) as info:
        codec.max_value_bytes()
    assert str(info.value) == (
        f"MIRRORNEURON_MAX_VALUE_BYTES must be a positive number of bytes, got {raw!r}"
    )
