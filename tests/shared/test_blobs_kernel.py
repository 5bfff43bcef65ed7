"""A real kernel whose steps keep their blobs in a real S3-compatible server (moto): they
are uploaded behind the cell, like local blobs (kernel/writer.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..helpers import (
    checkpointed,
    fresh,
    mn,
    not_restored,
    run,
    runs_of,
    stored,
    tick,
    usage_error,
    value,
)
from ..kernels import Kernel
from .conftest import S3
from .moto import free_port

pytestmark = pytest.mark.kernel

MAKE = (
    "%%mn_step make\n"
    "import numpy as np\n"
    "arr = np.arange(300_000)\n"  # 2.4 MB: a buffer blob, not an inline row
    "small = 5\n" + tick("make.count")
)
TOTAL = str(sum(range(300_000)))


@pytest.fixture
def url(s3: S3, monkeypatch: pytest.MonkeyPatch) -> str:
    blobs = s3.url()
    monkeypatch.setenv("MIRRORNEURON_BLOBS", blobs)
    return blobs


@pytest.fixture
def s3_kernel(url: str, workdir: Path, hermetic: Path) -> Iterator[Kernel]:
    k = Kernel(workdir)  # inherits MIRRORNEURON_BLOBS and the endpoint
    k.run("%load_ext mirrorneuron_nb")
    try:
        yield k
    finally:
        k.shutdown()


def _objects(s3: S3, url: str) -> dict[str, int]:
    prefix = url.split("/", 3)[3] + "/"
    listed = s3.client().list_objects_v2(Bucket=s3.bucket, Prefix=prefix)
    return {o["Key"]: o["Size"] for o in listed.get("Contents", [])}


def _cli(workdir: Path, *args: str) -> tuple[int, str, str]:
    notebook = workdir / "nb.ipynb"
    notebook.write_text("{}")
    env = {"MIRRORNEURON_SIDECAR": str(workdir / "mirrorneuron.mn")}
    done = mn(args[0], str(notebook), *args[1:], env=env, timeout=120)
    return done.returncode, done.stdout, done.stderr


def test_checkpoints_in_s3_resume_after_restart_and_refuse_tampering(
    s3: S3, url: str, s3_kernel: Kernel, workdir: Path
) -> None:
    run(s3_kernel, MAKE)
    assert not list((workdir / "mirrorneuron.mn").glob("blobs/*/*"))  # nothing beside it
    objects = _objects(s3, url)
    assert objects and max(objects.values()) >= 300_000 * 8

    fresh(s3_kernel)
    run(s3_kernel, "%mn_resume")
    assert value(s3_kernel, "(int(arr.sum()), small)") == f"({TOTAL}, 5)"
    run(s3_kernel, MAKE)  # a cache hit: its checkpoint is read back from the bucket
    assert runs_of(workdir, "make.count") == 1

    # gc and doctor open the same store (--blobs, as a user passes it)
    code, out, err = _cli(workdir, "gc", "--blobs", url)
    assert code == 0, err
    assert f"blobs at {url} are shared with other notebooks: gc deletes none" in out
    assert _objects(s3, url) == objects
    code, out, err = _cli(workdir, "doctor", "--json", "--blobs", url)
    assert code == 0 and json.loads(out)["healthy"], out + err

    # The array's object replaced by other bytes of the same size: refused, not loaded.
    key = max(objects, key=lambda k: objects[k])
    body = s3.client().get_object(Bucket=s3.bucket, Key=key)["Body"].read()
    s3.client().put_object(Bucket=s3.bucket, Key=key, Body=bytes(len(body)))
    code, out, err = _cli(workdir, "doctor", "--json", "--blobs", url)
    assert code == 3 and not json.loads(out)["healthy"], out + err
    fresh(s3_kernel)
    report = run(s3_kernel, "%mn_resume").stdout
    assert "arr" in not_restored(report), report
    assert "does not match its hash" in not_restored(report)["arr"]
    assert value(s3_kernel, "'arr' in globals()") == "False"
    run(s3_kernel, MAKE)  # runs again and uploads the good bytes again
    assert runs_of(workdir, "make.count") == 2
    fresh(s3_kernel)
    run(s3_kernel, "%mn_resume")
    assert value(s3_kernel, "int(arr.sum())") == TOTAL


def test_unreachable_object_store_fails_the_step_not_the_kernel(
    url: str, monkeypatch: pytest.MonkeyPatch, workdir: Path, hermetic: Path
) -> None:
    """The upload fails behind the cell: the first cell after it says so, in one line.
    (A cell reading `arr` waits for its spool file, not for the upload.)"""
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    k = Kernel(workdir)
    k.settle = False  # the failure is the next cell's to show (a silent flush would eat it)
    try:
        run(k, "%load_ext mirrorneuron_nb")
        run(k, MAKE)
        out = run(k, "print(int(arr.sum()))")
        # The kernel lives on, the values stay in memory, and nothing claims a checkpoint.
        assert out.stdout.strip() == TOTAL
        said = [line for line in out.stderr.splitlines() if "could not be written" in line]
        deadline = time.monotonic() + 120
        while not said:
            assert time.monotonic() < deadline, "the upload never failed"
            time.sleep(0.05)
            out = run(k, "pass")
            said = [line for line in out.stderr.splitlines() if "could not be written" in line]
        assert len(said) == 1 and "(store unavailable: blobs at s3://" in said[0], out.stderr
        assert "Traceback" not in out.stderr
        status = run(k, "%mn_status").notes
        assert "failed" in status and "succeeded" not in status, status
        assert stored(workdir, "make") == ("failed", 0)
    finally:
        k.shutdown()


def test_unreachable_object_store_fails_a_batch_step_cell(
    url: str, monkeypatch: pytest.MonkeyPatch, workdir: Path, hermetic: Path
) -> None:
    """A batch run's step cell waits for its upload: the failure is that cell's, in one
    line, as when blobs were uploaded in the cell; the next cell does not repeat it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    k = Kernel(workdir, {"MIRRORNEURON_RUN_KIND": "batch"})
    k.settle = False
    try:
        run(k, "%load_ext mirrorneuron_nb")
        message = usage_error(k, MAKE)
        assert message.startswith("store unavailable: blobs at s3://"), message
        out = run(k, "print(int(arr.sum()))")
        assert out.stdout.strip() == TOTAL
        assert "could not be written" not in out.stderr, out.stderr
        assert stored(workdir, "make") == ("failed", 0)
    finally:
        k.shutdown()


def test_a_step_returns_before_its_blobs_reach_the_bucket_and_readers_wait(
    s3: S3, url: str, s3_kernel: Kernel, workdir: Path
) -> None:
    """Remote blobs are written behind the cell too (they were uploaded in the cell before:
    then the bucket already held them when the step returned). The writer writes the
    array from memory into a local spool file, then uploads it; a cell that mutates it
    waits for the spool file (not for the upload), and the upload holds the step's value."""
    s3_kernel.settle = False
    run(s3_kernel, "import os\nos.environ['MIRRORNEURON_WRITER_DELAY'] = '8'\ndel os")
    run(s3_kernel, MAKE)
    assert _objects(s3, url) == {}  # control is back, nothing uploaded yet
    assert stored(workdir, "make") == ("checkpointing", 0)
    assert not list((workdir / "mirrorneuron.mn").rglob(".tmp-*"))  # no copy in the cell
    run(s3_kernel, "unrelated = 1")  # touches nothing being written: does not wait
    assert stored(workdir, "make") == ("checkpointing", 0)
    out = run(s3_kernel, "arr[:] = 0\nprint(int(arr.sum()))")  # waits for the spool file
    assert out.stdout.strip() == "0"
    flushed = run(s3_kernel, "import mirrorneuron_nb as _m\n_m.flush()")
    assert "could not be written" not in out.stderr + flushed.stderr
    assert stored(workdir, "make") == ("succeeded", 1)
    assert max(_objects(s3, url).values()) >= 300_000 * 8
    assert not list((workdir / "mirrorneuron.mn" / "spool").glob(".tmp-*"))
    saved = checkpointed(workdir, "make", "arr")
    assert int(saved.sum()) == int(TOTAL)  # type: ignore[attr-defined]


def test_a_kernel_killed_before_the_upload_leaves_the_previous_checkpoint(
    s3: S3, url: str, s3_kernel: Kernel, workdir: Path
) -> None:
    run(s3_kernel, MAKE)
    s3_kernel.settle = False
    run(s3_kernel, "import os\nos.environ['MIRRORNEURON_WRITER_DELAY'] = '60'\ndel os")
    run(s3_kernel, MAKE.replace("np.arange(300_000)", "np.arange(300_000) * 2"))
    assert stored(workdir, "make") == ("checkpointing", 1)
    s3_kernel.kill()
    s3_kernel.revive()
    run(s3_kernel, "%load_ext mirrorneuron_nb")
    report = run(s3_kernel, "%mn_resume").stdout
    assert "its last run is interrupted; restored its last good checkpoint" in report, report
    assert value(s3_kernel, "int(arr.sum())") == TOTAL
