"""Blobs in object storage through fsspec (`s3://`, `gs://`, `az://`, `file://`...).

The same content-addressed layout as the local store (`PREFIX/ab/cdef...`), shared by every
notebook that names the URL. A blob is whole before any row points at it: object stores
make a PUT visible all at once (one request, or a completed multipart upload); on a local
filesystem it is written under a temporary name and renamed. What is read is untrusted:
at most `size + 1` bytes are fetched and the bytes are checked against the key, always.

Degraded against the local store: no mmap (a blob is read into memory, whole); no fsync
(the object store's own durability); gc never deletes (other notebooks' rows may point at
a blob: a lifecycle rule on the bucket is the way to expire them); doctor does not list the
objects. Keys are validated exactly as locally (blobs.check_key) before they name a path.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .. import config
from ..errors import (
    CheckpointUnavailable,
    InvalidInput,
    MirrorNeuronError,
    StoreUnavailable,
    one_line,
)
from ..values.digest import digest
from .blobs import Progress, check_key, write_temp

CORRUPT_DIR = ".corrupt"
TMP_DIR = ".tmp"

ASK_FIRST_BYTES = 8 * 2**20
"""A blob this big or bigger is looked for before it is uploaded (one HEAD saves sending
it again when another worker stored it); a smaller one is just PUT: asking would cost a
request about as dear as the PUT itself (see `put`)."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()
"""What a new file gets (read once, as the module loads)."""


class RemoteBlobStore:
    """Blobs at an fsspec URL. The filesystem is made on first use (opening a store for
    its rows, as the server does, contacts nothing)."""

    remote = True

    def __init__(self, url: str) -> None:
        import fsspec
        from fsspec.core import split_protocol

        self.location = url.rstrip("/")
        protocol = split_protocol(url)[0] or "file"
        if protocol not in fsspec.available_protocols():
            raise InvalidInput(
                f"{config.BLOBS_ENV}: unknown storage protocol {protocol!r} in {url}"
            )
        self._fs: Any = None
        self._root = ""
        self._local = protocol in ("file", "local")
        # Keys found corrupted here: put() uploads them again even when an object is there.
        self._bad: set[str] = set()

    @property
    def fs(self) -> Any:
        if self._fs is None:
            from fsspec.core import url_to_fs

            try:
                # url_to_fs applies fsspec's configuration (FSSPEC_S3_ENDPOINT_URL, ...).
                self._fs, root = url_to_fs(self.location)
            except ImportError as exc:
                raise InvalidInput(
                    f"{config.BLOBS_ENV}={self.location} needs a package: {one_line(exc)} "
                    "(pip install 'mirrorneuron_nb[shared]')"
                ) from None
            except (ValueError, TypeError) as exc:
                raise InvalidInput(f"{config.BLOBS_ENV}={self.location}: {one_line(exc)}") from None
            self._root = str(root).rstrip("/")
        return self._fs

    def _path(self, key: str) -> str:
        key = check_key(key)
        if self._fs is None:
            self.fs  # noqa: B018 (makes the filesystem and sets _root)
        return f"{self._root}/{key[:2]}/{key[2:]}"

    @contextlib.contextmanager
    def _reaching(self) -> Iterator[None]:
        """Anything the object store raises (unreachable, denied, timed out) is one line."""
        try:
            yield
        except MirrorNeuronError:
            raise
        except Exception as exc:
            raise StoreUnavailable(
                f"store unavailable: blobs at {self.location}: {one_line(exc)}"
            ) from None

    def exists(self, key: str, size: int) -> bool:
        path = self._path(key)
        with self._reaching():
            if not self._local and hasattr(self.fs, "_call_s3"):  # s3fs
                return self._head(path, size)
            try:
                info = self.fs.info(path)
            except FileNotFoundError:
                return False
        return _is_file(info) and int(info.get("size", -1)) == size

    def _head(self, path: str, size: int) -> bool:
        """On S3 one HEAD: s3fs's info() follows a missing object with a LIST (is it a
        "directory"?), a second request for every new blob that a key never needs."""
        from fsspec.asyn import sync

        fs, (bucket, _, name) = self.fs, path.partition("/")
        try:
            found = sync(fs.loop, fs._call_s3, "head_object", fs.kwargs, Bucket=bucket, Key=name)
        except FileNotFoundError:
            return False
        return int(found.get("ContentLength", -1)) == size

    def put(self, key: str, chunks: Sequence[Any], *, fsync: bool = True) -> bool:
        """Upload a blob unless an object of its size is there. Returns False if it was.
        `fsync` does not apply: the object store's durability is its own.

        A small blob on an object store is PUT without asking first (one request instead
        of HEAD + LIST + PUT); on S3 as a conditional create (If-None-Match: *), refused
        when the object is there. A store that ignores the condition replaces the object
        with the same bytes, which changes nothing a reader can see: the key is the
        content's hash, a PUT appears whole, and a reader checks the bytes it gets."""
        path = self._path(key)
        size = sum(memoryview(c).nbytes for c in chunks)
        bad = key in self._bad  # set aside as corrupt: replaced unconditionally
        small = not self._local and size < ASK_FIRST_BYTES
        if not small and not bad and self.exists(key, size):
            return False
        data = b"".join(memoryview(c).cast("B") for c in chunks)
        if small and not bad and hasattr(self.fs, "_call_s3"):  # s3fs: If-None-Match
            return self._create(key, path, data, size)
        self._upload(key, path, lambda target: self.fs.pipe_file(target, data))
        return True

    def _create(self, key: str, path: str, data: bytes, size: int) -> bool:
        """One conditional PUT: True if it made the object, False if one was there."""
        with self._reaching():
            try:
                self.fs.pipe_file(path, data, mode="create")
            except FileExistsError:
                return False
            except OSError:
                # S3 answers 409 to a create racing another one (retry, it says): the
                # other writer's object holds these same bytes once it is there.
                if self.exists(key, size):
                    return False
                raise
        self._bad.discard(key)
        return True

    def stage(self, key: str, chunks: Sequence[Any], spool: Path, *, verify: bool = False) -> str:
        """The chunks in a local temp file in `spool`, not fsynced, for `land` (`verify`:
        as BlobStore.stage)."""
        check_key(key)
        return write_temp(spool, chunks, fsync=False, expect=key if verify else None)

    def land(self, key: str, tmp: str) -> bool:
        """Upload a local file `stage` wrote as the blob (unless an object of its size is
        there), then remove the file. The caller removes `tmp` if this fails."""
        path = self._path(key)
        if key not in self._bad and self.exists(key, os.path.getsize(tmp)):
            os.unlink(tmp)
            return False
        self._upload(key, path, lambda target: self._put_file(tmp, target))
        with contextlib.suppress(FileNotFoundError):  # (renamed into place)
            os.unlink(tmp)
        return True

    def _put_file(self, tmp: str, target: str) -> None:
        if self._local:
            with contextlib.suppress(OSError):  # another filesystem: copied, below
                # A local URL on the same filesystem: a rename, no copy. With the mode a
                # copy would get (a temp file is private; others may share the URL).
                os.chmod(tmp, _FILE_MODE)
                os.replace(tmp, target)
                return
        self.fs.put_file(tmp, target)

    def _upload(self, key: str, path: str, write: Callable[[str], object]) -> None:
        """`write(target)` makes the object: at `path` directly on an object store (a PUT
        appears whole), through a temporary name and a rename on a local filesystem."""
        with self._reaching():
            if self._local:
                tmp = f"{self._root}/{TMP_DIR}/{uuid.uuid4().hex}"
                self.fs.makedirs(f"{self._root}/{TMP_DIR}", exist_ok=True)
                self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
                try:
                    write(tmp)
                    self.fs.mv(tmp, path)  # a rename: the blob appears whole
                except BaseException:
                    with contextlib.suppress(Exception):
                        self.fs.rm_file(tmp)
                    raise
            else:
                write(path)
        self._bad.discard(key)

    def sync_dirs(self, keys: Sequence[str]) -> None:
        """Nothing to sync: an uploaded object is durable once its PUT returned."""

    def read(self, key: str, size: int, *, verify: bool = True, quarantine: bool = False) -> bytes:
        """The blob's bytes, checked against its size and its key (whatever `verify` says:
        nothing read from a shared bucket is trusted unchecked). `quarantine`: move a
        corrupted object aside so no later put() reuses it (only for a signed row's key)."""
        path = self._path(key)
        with self._reaching():
            try:
                if self._local and not _is_file(self.fs.info(path)):
                    raise CheckpointUnavailable(key, f"blob {key} is not a regular file")
                # Never more than one byte past the size the row promises.
                data = bytes(self.fs.cat_file(path, start=0, end=size + 1))
            except FileNotFoundError:
                raise CheckpointUnavailable(key, f"blob {key} is missing") from None
        if len(data) != size:
            raise CheckpointUnavailable(key, f"blob {key} has the wrong size, expected {size}")
        if digest(data) != key:
            if quarantine:
                self._quarantine(key, path)
            raise CheckpointUnavailable(key, f"blob {key} does not match its hash (corrupted)")
        return data

    def map(self, key: str, size: int, *, verify: bool = True, quarantine: bool = False) -> Any:
        """No mapping from an object store: a writable copy in memory."""
        return bytearray(self.read(key, size, verify=verify, quarantine=quarantine))

    def _quarantine(self, key: str, path: str) -> None:
        self._bad.add(key)
        with contextlib.suppress(Exception):
            if self._local:
                self.fs.makedirs(f"{self._root}/{CORRUPT_DIR}", exist_ok=True)
            self.fs.mv(path, f"{self._root}/{CORRUPT_DIR}/{key}")

    def collect(
        self,
        referenced: frozenset[str],
        grace_seconds: float = 3600,
        progress: Progress | None = None,
    ) -> tuple[int, int]:
        """Never deletes: other notebooks' rows may point at any blob under the URL."""
        return 0, 0


def _is_file(info: dict[str, Any]) -> bool:
    # A local symlink or FIFO is not a blob; fsspec reports "other" or islink for them.
    return info.get("type") == "file" and not info.get("islink", False)
