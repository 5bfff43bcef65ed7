"""`stat` of a local file that keeps the GIL.

`os.stat` lets other threads run while it waits for the kernel. In a Jupyter kernel that
costs a step far more than the call: ipykernel's IOPub and shell-channel threads have
work queued from the request's start (the busy status, `execute_input`), and they run it
then, ~0.2 ms before the cell gets the GIL back; a cell that never lets go (a plain
`x = 1`) leaves that work until after it. A `stat` of a file on a local disk takes
microseconds, so the write guard (guard.py) calls the C library's `statx` through ctypes'
PyDLL, which keeps the GIL, on Linux; elsewhere, or without `statx`, `os.stat`.
Sidecars live on local disks: SQLite's WAL mode needs shared memory, which network
filesystems do not offer.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple


class FileStat(NamedTuple):
    dev: int
    ino: int
    mtime_ns: int
    size: int


_AT_FDCWD = -100
_STATX_BASIC_STATS = 0x7FF
_STATX_SIZE = 256  # struct statx (linux/stat.h), a fixed layout across architectures
_LAYOUT = struct.Struct("=32xQQ64xqI12xII")  # ino, size; mtime sec, nsec; dev major, minor


def _held_statx() -> Callable[[Path], FileStat | None] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        statx = ctypes.PyDLL(None, use_errno=True).statx  # glibc >= 2.28
    except (AttributeError, OSError):
        return None
    statx.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p)
    statx.restype = ctypes.c_int

    def held(path: Path) -> FileStat | None:
        buffer = ctypes.create_string_buffer(_STATX_SIZE)
        if statx(_AT_FDCWD, os.fsencode(path), 0, _STATX_BASIC_STATS, buffer) != 0:
            if ctypes.get_errno() == errno.ENOENT:
                return None
            return _os_stat(path)  # any other error: as os.stat says it
        ino, size, sec, nsec, major, minor = _LAYOUT.unpack_from(buffer)
        return FileStat(os.makedev(major, minor), ino, sec * 1_000_000_000 + nsec, size)

    return held


def _os_stat(path: Path) -> FileStat | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return FileStat(st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


file_stat: Callable[[Path], FileStat | None] = _held_statx() or _os_stat
"""A file's identity, modification time and size; None when it does not exist."""
