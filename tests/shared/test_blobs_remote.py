"""The fsspec blob store against a real S3-compatible server (moto) and `file://`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mirrorneuron_nb.errors import CheckpointUnavailable, InvalidInput, StoreUnavailable
from mirrorneuron_nb.store import open_blobs
from mirrorneuron_nb.store.blobs_remote import RemoteBlobStore
from mirrorneuron_nb.values.digest import digest

from ..helpers import mn
from .conftest import S3
from .moto import free_port

DATA = b"a checkpoint's bytes " * 1000


@pytest.fixture(params=["s3", "file"])
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> RemoteBlobStore:
    if request.param == "s3":
        s3: S3 = request.getfixturevalue("s3")
        return RemoteBlobStore(s3.url())
    return RemoteBlobStore(f"file://{tmp_path}/bucket")


def _object(store: RemoteBlobStore, key: str) -> str:
    store.fs  # noqa: B018 (makes the filesystem: sets _root)
    return f"{store._root}/{key[:2]}/{key[2:]}"


def test_round_trip_is_content_addressed(remote: RemoteBlobStore) -> None:
    key = digest(DATA)
    half = len(DATA) // 2
    assert remote.put(key, [DATA[:half], memoryview(DATA)[half:]]) is True
    assert remote.exists(key, len(DATA))
    assert remote.put(key, [DATA]) is False  # already there: not uploaded again
    assert remote.read(key, len(DATA)) == DATA
    assert remote.map(key, len(DATA)) == bytearray(DATA)
    assert remote.collect(frozenset()) == (0, 0)  # shared: gc never deletes
    assert remote.read(key, len(DATA)) == DATA
    leftovers = [p for p in remote.fs.find(remote._root) if "/.tmp/" in p]
    assert leftovers == []


def test_a_staged_file_lands_as_the_blob(remote: RemoteBlobStore, tmp_path: Path) -> None:
    """What write-behind does (kernel/writer.py): the bytes frozen in a local spool file,
    landed later (uploaded, or renamed on a local URL), the spool file gone."""
    key = digest(DATA)
    spool = tmp_path / "spool"
    tmp = remote.stage(key, [memoryview(DATA)], spool)
    assert Path(tmp).parent == spool and Path(tmp).read_bytes() == DATA
    assert not remote.exists(key, len(DATA))
    assert remote.land(key, tmp) is True
    assert remote.read(key, len(DATA)) == DATA
    assert list(spool.iterdir()) == []
    again = remote.stage(key, [DATA], spool)
    assert remote.land(key, again) is False  # there already: nothing uploaded
    assert list(spool.iterdir()) == []
    if remote.location.startswith("file:"):  # renamed, with the mode a copy would get
        mask = os.umask(0o022)
        os.umask(mask)
        assert Path(_object(remote, key)).stat().st_mode & 0o777 == 0o666 & ~mask


def test_tampered_blob_is_refused_and_set_aside(remote: RemoteBlobStore) -> None:
    key = digest(DATA)
    remote.put(key, [DATA])
    remote.fs.pipe_file(_object(remote, key), DATA.replace(b"a", b"b", 1))  # same size
    # verify=False does not apply to a remote store: its bytes are never trusted unchecked.
    with pytest.raises(CheckpointUnavailable, match="does not match its hash"):
        remote.read(key, len(DATA), verify=False, quarantine=True)
    assert not remote.exists(key, len(DATA))  # moved aside: no put() reuses it
    assert remote.put(key, [DATA]) is True
    assert remote.read(key, len(DATA)) == DATA


def test_wrong_size_missing_and_bad_keys(remote: RemoteBlobStore) -> None:
    key = digest(DATA)
    remote.put(key, [DATA])
    with pytest.raises(CheckpointUnavailable, match="wrong size"):
        remote.read(key, 10)  # reads at most 11 bytes of it
    with pytest.raises(CheckpointUnavailable, match="missing"):
        remote.read("0" * 32, 3)
    for bad in ["../" * 10 + "etc/passwd", "A" * 32, "0" * 31, ""]:
        with pytest.raises(CheckpointUnavailable, match="not a digest"):
            remote.read(bad, 3)
        with pytest.raises(CheckpointUnavailable, match="not a digest"):
            remote.put(bad, [b"x"])


def test_file_url_refuses_a_symlink_planted_as_a_blob(tmp_path: Path) -> None:
    remote = RemoteBlobStore(f"file://{tmp_path}/bucket")
    secret = tmp_path / "secret"
    secret.write_bytes(DATA)
    key = digest(DATA)
    link = Path(_object(remote, key))
    link.parent.mkdir(parents=True)
    link.symlink_to(secret)
    assert not remote.exists(key, len(DATA))
    with pytest.raises(CheckpointUnavailable, match="not a regular file"):
        remote.read(key, len(DATA))


def test_unreachable_object_store_is_one_line(monkeypatch: pytest.MonkeyPatch, s3: S3) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    from s3fs import S3FileSystem

    S3FileSystem.clear_instance_cache()  # fsspec reuses a filesystem made for the server
    remote = RemoteBlobStore(s3.url())
    remote.fs.retries = 1  # s3fs's own retries, with backoff: keep the test short
    with pytest.raises(StoreUnavailable) as err:
        remote.put(digest(DATA), [DATA])
    message = str(err.value)
    assert message.startswith("store unavailable: blobs at s3://") and "\n" not in message


def test_configuration_chooses_the_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MIRRORNEURON_BLOBS", raising=False)
    assert open_blobs(tmp_path / "blobs").location == str(tmp_path / "blobs")
    monkeypatch.setenv("MIRRORNEURON_BLOBS", "s3://bucket/prefix/")
    chosen = open_blobs(tmp_path / "blobs")
    assert chosen.remote and chosen.location == "s3://bucket/prefix"
    monkeypatch.setenv("MIRRORNEURON_BLOBS", "nosuchproto://x")
    with pytest.raises(InvalidInput, match="unknown storage protocol 'nosuchproto'"):
        open_blobs(tmp_path / "blobs")


def test_fsspec_settings_reach_the_store(s3: S3, monkeypatch: pytest.MonkeyPatch) -> None:
    """FSSPEC_S3_ENDPOINT_URL alone (no AWS_ENDPOINT_URL) names the server: fsspec's own
    configuration, read when fsspec is imported (so: a new process)."""
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("FSSPEC_S3_ENDPOINT_URL", s3.endpoint)
    code = (
        "from mirrorneuron_nb.store.blobs_remote import RemoteBlobStore\n"
        "from mirrorneuron_nb.values.digest import digest\n"
        f"r = RemoteBlobStore({s3.url()!r})\n"
        "assert r.put(digest(b'abc'), [b'abc'])\n"
        "print(r.read(digest(b'abc'), 3).decode())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "abc", done.stderr


def test_blobs_option_with_an_unknown_protocol_is_one_line(tmp_path: Path) -> None:
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text("{}")
    done = mn("status", str(notebook), "--blobs", "nosuch://bucket/x", timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "mn-nb: error: MIRRORNEURON_BLOBS: unknown storage protocol 'nosuch' in nosuch://bucket/x\n"
    )


def _counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Every request s3fs sends from now on, by operation (what a bucket bills)."""
    from s3fs import S3FileSystem

    calls: dict[str, int] = {}
    inner = S3FileSystem._call_s3

    async def counted(self, method, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls[method] = calls.get(method, 0) + 1
        return await inner(self, method, *args, **kwargs)

    monkeypatch.setattr(S3FileSystem, "_call_s3", counted)
    return calls


def _fresh(s3: S3) -> RemoteBlobStore:
    """A store on a filesystem made now (an earlier test may leave one cached for another
    endpoint), before any request is counted."""
    from s3fs import S3FileSystem

    S3FileSystem.clear_instance_cache()
    store = RemoteBlobStore(s3.url())
    store.fs  # noqa: B018
    return store


def test_a_new_small_blob_on_s3_is_one_put(s3: S3, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15: before, HEAD + LIST + PUT for every new blob (s3fs's info() lists a
    missing key as a possible directory). Now one conditional PUT, refused (not replaced)
    when the object is there already."""
    store, key = _fresh(s3), digest(DATA)
    calls = _counting(monkeypatch)
    assert store.put(key, [DATA]) is True
    assert calls == {"put_object": 1}
    calls.clear()
    assert store.put(key, [DATA]) is False  # If-None-Match: the object stays as it was
    assert calls == {"put_object": 1}
    assert store.read(key, len(DATA)) == DATA


def test_a_big_blob_on_s3_is_asked_for_with_one_head(
    s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big blob is looked for first (another worker may have sent its bytes), with one
    HEAD: before, HEAD + LIST when it was missing."""
    monkeypatch.setattr("mirrorneuron_nb.store.blobs_remote.ASK_FIRST_BYTES", 1000)
    store, key = _fresh(s3), digest(DATA)
    calls = _counting(monkeypatch)
    assert store.put(key, [DATA]) is True
    assert calls == {"head_object": 1, "put_object": 1}
    calls.clear()
    assert store.put(key, [DATA]) is False
    assert calls == {"head_object": 1}
