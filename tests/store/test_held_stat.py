"""The write guard's `stat` (store/held_stat.py): what `os.stat` says, without letting
another thread run meanwhile."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from mirrorneuron_nb.store import held_stat
from mirrorneuron_nb.store.held_stat import FileStat, file_stat


def expected(path: Path) -> FileStat:
    st = os.stat(path)
    return FileStat(st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def test_it_says_what_os_stat_says(tmp_path: Path) -> None:
    data = tmp_path / "state.sqlite"
    data.write_bytes(b"x" * 12345)
    os.utime(data, ns=(1_700_000_000_123_456_789, 1_700_000_000_987_654_321))
    assert file_stat(data) == expected(data)
    assert file_stat(data).mtime_ns == 1_700_000_000_987_654_321
    assert file_stat(tmp_path) == expected(tmp_path)
    assert file_stat(tmp_path / "missing") is None
    with pytest.raises(NotADirectoryError):
        file_stat(data / "below-a-file")


def _ran_meanwhile(call: object, path: Path) -> int:
    """How many times a spinning thread ran while this one called `call(path)` 20 times,
    with a switch interval far longer than those calls take: the spinner runs only when
    this thread lets go of the GIL itself."""
    ticks = [0]
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            ticks[0] += 1

    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.05)
    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        time.sleep(0.01)  # the spinner runs; once back, this thread has a whole interval
        before = ticks[0]
        for _ in range(20):
            call(path)  # type: ignore[operator]
        return ticks[0] - before
    finally:
        stop.set()
        spinner.join()
        sys.setswitchinterval(interval)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="statx is Linux's")
def test_it_keeps_the_gil_where_os_stat_lets_go(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"x")
    assert file_stat is not held_stat._os_stat
    # The measure itself: a call that lets go (1 ms asleep) lets the spinner run. (So did
    # os.stat, the guard's call before, in 3 of 3 runs on an idle machine: 1-3M ticks.)
    assert _ran_meanwhile(lambda _: time.sleep(0.001), path) > 0
    # (A machine may preempt this thread for a whole interval: one quiet run of three.)
    assert min(_ran_meanwhile(file_stat, path) for _ in range(3)) == 0
