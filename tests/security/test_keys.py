"""The signing key is refused, with one line, when anyone could forge with it or read it:
too short (empty included), not a regular file, readable by group or others. A new key
is created 0600 in a 0700 directory."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mirrorneuron_nb.store import Store
from mirrorneuron_nb.values.signing import key_path, signing_key

from ..helpers import run, value
from .sidecars import counter, kernel_for, runs, write_notebook


def _empty(key: Path) -> str:
    key.write_bytes(b"")
    key.chmod(0o600)
    return "has 0 bytes, fewer than 32"


def _short(key: Path) -> str:
    key.write_bytes(b"k" * 16)
    key.chmod(0o600)
    return "has 16 bytes, fewer than 32"


def _world_readable(key: Path) -> str:
    key.write_bytes(os.urandom(32))
    key.chmod(0o644)
    return f"run `chmod 600 {key}`"


def _directory(key: Path) -> str:
    key.mkdir()
    return "is not a regular file"


BAD_KEYS: dict[str, Callable[[Path], str]] = {
    "empty": _empty,
    "short": _short,
    "world-readable": _world_readable,
    "directory": _directory,
}


def _clear(key: Path) -> None:
    if key.is_dir():
        key.rmdir()
    elif key.exists():
        key.unlink()


@pytest.mark.kernel
def test_a_bad_key_stops_a_step_before_its_body_with_one_line(
    workdir: Path, hermetic: Path
) -> None:
    notebook = write_notebook(workdir / "nb.ipynb", [])
    key = hermetic / "bad.key"
    step = "%%mn_step make\n" + counter("runs.txt") + "x = 2\n"
    with kernel_for(notebook, key) as kernel:
        run(kernel, "kept = 'still here'")
        for kind, make in BAD_KEYS.items():
            _clear(key)
            expected = make(key)
            out = kernel.run(step, check=False)
            assert out.error is not None and out.error["ename"] == "UsageError", (kind, out)
            lines = out.stderr.strip().splitlines()
            assert len(lines) == 1 and expected in lines[0], (kind, out.stderr)
            assert "Traceback" not in out.stderr, out.stderr
            resumed = kernel.run("%mn_resume", check=False)
            assert resumed.error is not None and expected in resumed.stderr, (kind, resumed)
        assert runs(workdir, "runs.txt") == 0  # no body ran
        assert value(kernel, "kept") == "'still here'"
        # With a good key the step runs.
        _clear(key)
        run(kernel, step)
        assert runs(workdir, "runs.txt") == 1


def test_a_bad_key_is_one_line_and_exit_2_from_the_cli(workdir: Path, hermetic: Path) -> None:
    notebook = write_notebook(workdir / "nb.ipynb", [])
    Store(notebook.with_suffix(".mn")).close()
    key = hermetic / "bad.key"
    for kind, make in BAD_KEYS.items():
        _clear(key)
        expected = make(key)
        result = subprocess.run(
            [sys.executable, "-m", "mirrorneuron_nb.batch.cli", "trust", notebook.name],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "MIRRORNEURON_KEY_FILE": str(key)},
        )
        assert result.returncode == 2, (kind, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (kind, result.stderr)


def test_a_new_key_is_private(hermetic: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = hermetic / "new-dir" / "signing.key"
    monkeypatch.setenv("MIRRORNEURON_KEY_FILE", str(key))
    assert len(signing_key()) == 32
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700


def test_trust_without_a_terminal_asks_for_yes(workdir: Path) -> None:
    notebook = write_notebook(workdir / "nb.ipynb", [])
    Store(notebook.with_suffix(".mn")).close()
    result = subprocess.run(
        [sys.executable, "-m", "mirrorneuron_nb.batch.cli", "trust", notebook.name],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pass --yes" in lines[0], result.stderr


def test_the_key_path_follows_the_jupyter_data_dir(
    hermetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """key_path is remembered (resolving the home directory costs a trivial step ~0.2 ms),
    but per environment: a changed JUPYTER_DATA_DIR or HOME names another key."""
    monkeypatch.delenv("MIRRORNEURON_KEY_FILE")
    for data in ("one", "two", "one"):
        monkeypatch.setenv("JUPYTER_DATA_DIR", str(hermetic / data))
        assert key_path() == hermetic / data / "mirrorneuron_nb" / "signing.key"
    monkeypatch.delenv("JUPYTER_DATA_DIR")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("JUPYTER_PLATFORM_DIRS", raising=False)
    for home in ("h1", "h2"):
        (hermetic / home).mkdir()
        monkeypatch.setenv("HOME", str(hermetic / home))
        expected = hermetic / home / ".local" / "share" / "jupyter" / "mirrorneuron_nb"
        assert key_path() == expected.resolve() / "signing.key"
