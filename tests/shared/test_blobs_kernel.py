"""A real kernel whose steps keep their blobs in a real S3-compatible server (moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..helpers import fresh, mn, not_restored, run, runs_of, tick, usage_error, value
from ..kernels import Kernel
from .conftest import S3, free_port

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
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    k = Kernel(workdir)
    try:
        run(k, "%load_ext mirrorneuron_nb")
        message = usage_error(k, MAKE)
        assert "store unavailable: blobs at s3://" in message
        # The kernel lives on, the values stay in memory, and nothing claims a checkpoint.
        assert value(k, "int(arr.sum())") == TOTAL
        status = run(k, "%mn_status").notes
        assert "failed" in status and "succeeded" not in status, status
    finally:
        k.shutdown()
