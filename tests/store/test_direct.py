"""Big blobs through the page cache or around it (store/direct.py), via write_temp.

The chunk and block sizes are made small here (CHUNK 64 KiB, BLOCK 16 KiB) so that a
few hundred KiB cross every edge; the way each chunk is written is decided from a fake
clock that each write advances by a cost per byte, page cache or O_DIRECT: the decision
is tested, never the machine's speed."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mirrorneuron_nb.errors import BlobChanged
from mirrorneuron_nb.store import direct
from mirrorneuron_nb.store.blobs import BlobStore, write_temp
from mirrorneuron_nb.values.digest import digest_parts, hasher

from ..helpers import checkpointed, run, sidecar, value
from ..kernels import Kernel

CHUNK = 64 << 10
BLOCK = 16 << 10
O_DIRECT = getattr(os, "O_DIRECT", 0)
pytestmark = pytest.mark.skipif(not O_DIRECT, reason="no O_DIRECT on this platform")


class Disk:
    """Records every pwrite (offset, size, O_DIRECT?) and advances a fake clock by a cost
    per byte in ns: `buffered` (one cost per chunk, the last repeated) or `direct`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 0.0
        self.buffered = [0.1]
        self.direct = 1.0
        self.writes: list[tuple[int, int, bool]] = []
        self.fail: OSError | None = None
        self.fail_direct: OSError | None = None
        self._lock = threading.Lock()
        self._real = os.pwrite
        # (raising=False: the same tests run against older code, which lacks some)
        monkeypatch.setattr(direct, "CHUNK", CHUNK, raising=False)
        monkeypatch.setattr(direct, "BLOCK", BLOCK, raising=False)
        monkeypatch.setattr(direct, "_disks", {}, raising=False)
        if hasattr(direct, "time"):
            monkeypatch.setattr(direct.time, "perf_counter", lambda: self.now)
        monkeypatch.setattr(direct.os, "pwrite", self.pwrite)

    def pwrite(self, fd: int, data: Any, offset: int) -> int:
        is_direct = bool(fcntl.fcntl(fd, fcntl.F_GETFL) & O_DIRECT)
        if self.fail is not None:
            raise self.fail
        if is_direct and self.fail_direct is not None:
            raise self.fail_direct
        size = memoryview(data).nbytes
        with self._lock:
            chunk = offset // CHUNK
            cost = self.direct if is_direct else self.buffered[min(chunk, len(self.buffered) - 1)]
            self.now += size * cost * 1e-9  # ns a byte, like direct.PRIOR_SECONDS_PER_BYTE
            self.writes.append((offset, size, is_direct))
        return self._real(fd, data, offset)

    def modes(self) -> list[str]:
        """How each chunk was written: b (page cache), d (O_DIRECT), or both (a tail)."""
        by_chunk: dict[int, set[bool]] = {}
        for offset, _, is_direct in self.writes:
            by_chunk.setdefault(offset // CHUNK, set()).add(is_direct)
        return ["".join(sorted("d" if d else "b" for d in by_chunk[c])) for c in sorted(by_chunk)]


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> Disk:
    return Disk(monkeypatch)


def data(size: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


def written(directory: Path, chunks: list[Any], mode: direct.Mode = "adaptive") -> bytes:
    path = directory / ".tmp-x"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        direct.write_chunks(fd, chunks, mode)
    finally:
        os.close(fd)
    out = path.read_bytes()
    path.unlink()
    return out


def temps(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(".tmp-")]


EDGES = [0, 1, 511, 4095, 4096, 4097, BLOCK - 1, BLOCK + 1, CHUNK - 1, CHUNK, CHUNK + 4097]


@pytest.mark.parametrize("mode", ["buffered", "direct", "adaptive"])
def test_bytes_round_trip_at_every_edge(disk: Disk, tmp_path: Path, mode: direct.Mode) -> None:
    disk.buffered = [2.0]  # adaptive: slow page cache, so it goes direct after one chunk
    for size in EDGES:
        body = data(size, size)
        assert written(tmp_path, [body], mode) == body, size
    if mode == "buffered":
        assert not any(d for _, _, d in disk.writes)
    else:
        assert any(d for _, _, d in disk.writes)


def test_odd_chunks_spanning_blocks_and_chunks(disk: Disk, tmp_path: Path) -> None:
    # views of several shapes and formats, some crossing BLOCK and CHUNK boundaries
    a = np.arange(9000, dtype=np.float64).reshape(300, 30)
    parts: list[Any] = [b"abc", data(70001, 1), memoryview(a), b"", data(CHUNK + 5, 2), a[7]]
    expected = b"".join(memoryview(p).cast("B").tobytes() for p in parts)
    assert written(tmp_path, parts, "direct") == expected
    assert written(tmp_path, parts, "buffered") == expected


def test_a_cold_page_cache_switches_to_direct_and_a_warm_one_stays(
    disk: Disk, tmp_path: Path
) -> None:
    body = data(6 * CHUNK + 4196)  # the last chunk: one block direct, 100 bytes buffered
    disk.buffered, disk.direct = [0.1], 1.0  # the prior is 1 ns a byte: warm page cache wins
    assert written(tmp_path, [body]) == body
    assert disk.modes() == ["b"] * 7
    disk.writes.clear()
    disk.buffered = [0.1, 0.1, 3.0]  # warm, then the third chunk is cold
    disk.direct = 0.5
    assert written(tmp_path, [body]) == body
    assert disk.modes() == ["b", "b", "b", "d", "d", "d", "bd"]  # the tail is buffered


def test_a_slow_disk_is_learned_and_the_page_cache_wins_again(disk: Disk, tmp_path: Path) -> None:
    body = data(5 * CHUNK)
    disk.buffered, disk.direct = [3.0], 8.0  # cold pages, but a disk slower still
    assert written(tmp_path, [body]) == body
    assert disk.modes() == ["b", "d", "b", "b", "b"]  # one direct chunk to learn it
    disk.writes.clear()
    assert written(tmp_path, [body]) == body
    assert disk.modes() == ["b"] * 5  # remembered for this device


def test_write_temp_goes_direct_when_the_page_cache_is_slow(disk: Disk, tmp_path: Path) -> None:
    """The regression: write_temp wrote every blob through the page cache, however slow."""
    body = data(3 * CHUNK + 12345)
    disk.buffered, disk.direct = [5.0], 0.5
    tmp = write_temp(tmp_path / "ab", [body], fsync=False)
    assert Path(tmp).name.startswith(".tmp-") and Path(tmp).parent == tmp_path / "ab"
    assert os.stat(tmp).st_mode & 0o777 == 0o600
    assert Path(tmp).read_bytes() == body
    assert disk.modes() == ["b", "d", "d", "bd"]


def test_fcntl_refusing_o_direct_falls_back_and_is_remembered(
    disk: Disk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = fcntl.fcntl
    asked: list[int] = []

    def refusing(fd: int, cmd: int, arg: int = 0) -> Any:
        if cmd == fcntl.F_SETFL and arg & O_DIRECT:
            asked.append(fd)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(fd, cmd, arg)

    monkeypatch.setattr(direct.fcntl, "fcntl", refusing)
    body = data(4 * CHUNK + 1)
    disk.buffered = [5.0]
    for _ in range(2):
        assert Path(write_temp(tmp_path, [body], fsync=True)).read_bytes() == body
    assert disk.modes() == ["b"] * 5
    assert len(asked) == 1  # asked once, then remembered for this device


def test_a_write_refusing_o_direct_rewrites_the_chunk_through_the_page_cache(
    disk: Disk, tmp_path: Path
) -> None:
    disk.fail_direct = OSError(errno.EINVAL, "Invalid argument")
    body = data(3 * CHUNK + 7)
    assert written(tmp_path, [body], "direct") == body
    assert written(tmp_path, [body], "direct") == body  # remembered: not tried again
    assert all(not d for _, _, d in disk.writes)


def test_no_o_direct_on_the_platform(
    disk: Disk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(direct, "_O_DIRECT", 0)
    body = data(3 * CHUNK)
    assert written(tmp_path, [body], "direct") == body
    assert disk.modes() == ["b"] * 3


def test_a_non_contiguous_chunk_fails_as_before_and_leaves_no_file(tmp_path: Path) -> None:
    strided = memoryview(np.arange(1000.0)[::2])
    with pytest.raises(BufferError):
        write_temp(tmp_path, [b"x" * 5000, strided], fsync=False)
    with pytest.raises(TypeError):
        write_temp(tmp_path, [b"x", 5], fsync=False)
    assert temps(tmp_path) == []


@pytest.mark.parametrize("mode", ["buffered", "direct"])
def test_a_failed_write_leaves_no_temp_file(
    disk: Disk, tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk.buffered = [5.0] if mode == "direct" else [0.1]
    disk.direct = 0.5
    real = disk.pwrite
    calls = []

    def full(fd: int, data: Any, offset: int) -> int:
        calls.append(offset)
        if offset >= 2 * CHUNK:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data, offset)

    monkeypatch.setattr(direct.os, "pwrite", full)
    with pytest.raises(OSError, match="No space"):
        write_temp(tmp_path, [data(4 * CHUNK)], fsync=False)
    assert temps(tmp_path) == []
    assert disk.modes()[:2] == (["b", "d"] if mode == "direct" else ["b", "b"])


def test_a_failing_block_waits_for_the_others_before_the_descriptor_closes(
    disk: Disk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block that fails must not leave another still writing to a closed descriptor
    (its number may already be another file's). The first draft raised at once."""
    real = disk.pwrite
    returned = threading.Event()
    late: list[int] = []

    def racing(fd: int, data: Any, offset: int) -> int:
        if offset == 0:
            raise OSError(errno.EIO, "Input/output error")
        returned.wait(0.5)  # how long does not matter: only whether the caller waited
        if returned.is_set():
            late.append(offset)
        return real(fd, data, offset)

    monkeypatch.setattr(direct.os, "pwrite", racing)
    with pytest.raises(OSError, match="Input/output"):
        written(tmp_path, [data(CHUNK)], "direct")
    returned.set()
    assert late == []


def test_pool_threads_are_named_mn(disk: Disk, tmp_path: Path) -> None:
    written(tmp_path, [data(2 * CHUNK)], "direct")
    pool = [t.name for t in threading.enumerate() if "direct" in t.name]
    assert pool and all(name.startswith("mn-") for name in pool)


def test_stage_land_read_verifies_a_blob_written_direct(disk: Disk, tmp_path: Path) -> None:
    disk.buffered, disk.direct = [5.0], 0.5
    body = np.random.default_rng(3).random((3 * CHUNK + 5000) // 8)
    key = digest_parts([memoryview(body).cast("B")])
    store = BlobStore(tmp_path / "blobs")
    tmp = store.stage(key, [memoryview(body).cast("B")], tmp_path / "spool")
    assert "d" in "".join(disk.modes())
    assert store.land(key, tmp)
    assert store.read(key, body.nbytes, verify=True) == body.tobytes()
    again = body * 2
    key2 = digest_parts([memoryview(again).cast("B")])
    assert store.put(key2, [memoryview(again).cast("B")])
    assert store.read(key2, again.nbytes, verify=True) == again.tobytes()
    assert temps(store.path(key).parent) == []


@pytest.mark.parametrize("mode", ["buffered", "direct", "adaptive"])
def test_a_hashed_write_hashes_exactly_the_bytes_written(
    disk: Disk, tmp_path: Path, mode: direct.Mode
) -> None:
    """Live memory written behind the cell (kernel/staging.py): the hash is of the bytes
    that went to the file, in order, at every edge and either way."""
    disk.buffered = [2.0]
    for size in EDGES:
        body = np.frombuffer(data(size, size), dtype=np.uint8).copy()
        path = tmp_path / f".tmp-{size}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        hashed = hasher()
        try:
            direct.write_chunks(fd, [b"head", memoryview(body)], mode, hashed)
        finally:
            os.close(fd)
        assert path.read_bytes() == b"head" + body.tobytes(), size
        assert hashed.hexdigest() == digest_parts([b"head", body]), size


def test_memory_changed_during_a_verified_stage_fails_and_leaves_no_file(
    disk: Disk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The array is written into between two blocks (as any other code could while the
    writer works): the hash of what was written is not the key, so the stage fails
    (BlobChanged) and no temp file stays."""
    body = np.zeros(3 * CHUNK // 8)
    key = digest_parts([memoryview(body).cast("B")])
    store = BlobStore(tmp_path / "blobs")
    real = disk.pwrite

    def pwrite(fd: int, data_: Any, offset: int) -> int:
        if offset == 2 * CHUNK:
            body[:] = 7.0  # between the blocks already written and the rest
        return real(fd, data_, offset)

    monkeypatch.setattr(direct.os, "pwrite", pwrite)
    with pytest.raises(BlobChanged, match="changed while being written"):
        store.stage(key, [memoryview(body).cast("B")], tmp_path / "spool", verify=True)
    assert temps(store.path(key).parent) == []
    unchanged = np.zeros(3 * CHUNK // 8)
    tmp = store.stage(key, [memoryview(unchanged).cast("B")], tmp_path / "spool", verify=True)
    assert store.land(key, tmp) and store.read(key, unchanged.nbytes, verify=True)


@contextlib.contextmanager
def tiny_tmpfs(where: Path) -> Iterator[Path]:
    where.mkdir()
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("cannot mount a tmpfs here (not root?)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


@pytest.mark.parametrize("mode", ["buffered", "direct"])
def test_a_full_filesystem_leaves_no_temp_file(tmp_path: Path, mode: direct.Mode) -> None:
    """A real ENOSPC (a 256 KiB tmpfs), with the real sizes and clock."""
    with tiny_tmpfs(tmp_path / "small") as small:
        fd = os.open(small / ".tmp-full", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with pytest.raises(OSError) as raised:
                direct.write_chunks(fd, [data(1 << 20)], mode)
            assert raised.value.errno == errno.ENOSPC
        finally:
            os.close(fd)
            os.unlink(small / ".tmp-full")
        with pytest.raises(OSError, match="No space"):
            write_temp(small, [data(1 << 20)], fsync=False)
        assert temps(small) == []


# The kernel's disk made faster than any page cache: after one chunk, the blob goes direct.
FAST_DISK = (
    "import os, mirrorneuron_nb.store.direct as _d\n"
    "_d._disks[os.stat('.').st_dev] = _d._Disk(seconds_per_byte=0.0, measured=True)\n"
    "del os\n"
)


@pytest.mark.kernel
def test_a_real_kernel_stages_a_big_array_direct_and_checkpoints_it_exactly(
    kernel: Kernel, workdir: Path
) -> None:
    """40 MB + 8 bytes (chunks, blocks and an unaligned tail), written from the kernel's
    live memory by its writer (no snapshot: this kernel's learning is looked at), landed,
    read back verified by this process; a mutation right after the cell does not reach
    it."""
    run(kernel, FAST_DISK + "import os\nos.environ['MIRRORNEURON_SNAPSHOT'] = '0'\ndel os\n")
    run(kernel, "%%mn_step big\nimport numpy as np\na = np.arange(5_000_001, dtype=float)\n")
    # learned from the direct chunks (it was 0.0): some of the blob went direct
    assert value(kernel, "_d._disks[_d.os.stat('.').st_dev].seconds_per_byte > 0") == "True"
    run(kernel, "a *= 2")  # waits for the commit: what landed is the step's value
    saved = checkpointed(workdir, "big", "a")
    assert isinstance(saved, np.ndarray)
    assert np.array_equal(saved, np.arange(5_000_001, dtype=float))
    assert (sidecar(workdir) / "blobs").is_dir()
    assert not list((sidecar(workdir) / "blobs").rglob(".tmp-*"))


def test_a_hashed_write_refused_directly_at_a_write_goes_through_the_page_cache(
    disk: Disk, tmp_path: Path
) -> None:
    """EINVAL at a direct write (accepted at fcntl: some network or FUSE filesystems):
    the refused block is written again buffered, and the file and its hash are the
    bytes, in order."""
    disk.fail_direct = OSError(errno.EINVAL, "Invalid argument")
    body = np.frombuffer(data(3 * CHUNK + 999, 6), dtype=np.uint8).copy()
    path = tmp_path / ".tmp-x"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    hashed = hasher()
    try:
        direct.write_chunks(fd, [memoryview(body)], "direct", hashed)
    finally:
        os.close(fd)
    assert path.read_bytes() == body.tobytes()
    assert hashed.hexdigest() == digest_parts([body])
    assert set(disk.modes()) == {"b"}


def test_a_hashed_buffered_write_starts_its_writeback_chunk_by_chunk(
    disk: Disk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader waits for the write and its fsync: each chunk written through the page
    cache has its writeback started at once, so the fsync waits for less. Before, the
    whole blob was left to the fsync."""
    advised: list[tuple[int, int, int]] = []
    monkeypatch.setattr(
        direct.os, "posix_fadvise", lambda fd, o, n, how: advised.append((o, n, how))
    )
    body = np.frombuffer(data(2 * CHUNK + 5, 7), dtype=np.uint8).copy()
    # A write without a hasher (a value frozen in its cell) is advised nothing.
    for name, hashed in (("hashed", hasher()), ("frozen", None)):
        fd = os.open(tmp_path / f".tmp-{name}", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            direct.write_chunks(fd, [memoryview(body)], "buffered", hashed)
        finally:
            os.close(fd)
    dontneed = os.POSIX_FADV_DONTNEED
    assert advised == [(0, CHUNK, dontneed), (CHUNK, CHUNK, dontneed), (2 * CHUNK, 5, dontneed)]
