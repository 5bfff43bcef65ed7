"""A sidecar signed with another user's key: nothing pickled in it is loaded until the user
runs `mn-nb trust NOTEBOOK`; after that everything loads, durable calls replay, and a stream
tampered with afterwards is still refused (by its hash or its signature)."""

from __future__ import annotations

import pickle
import sqlite3
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from mirrorneuron_nb.store import Store

from ..helpers import mn, not_restored, run, value
from ..kernels import Kernel
from ..messages import UNTRUSTED

pytestmark = [pytest.mark.kernel, pytest.mark.faults]

CELLS = {
    "make": "import numpy as np\narr = np.arange(200_000) * 2\nconfig = {'lr': 0.1}\n",
    "words": "words = ['w%d' % i for i in range(60_000)]\n",  # a stream blob (> 256 KB)
    # Three durable calls, then a failure: the journal stays open for the next run to replay.
    "calls": "import mirrorneuron_nb as mn\n"
    "@mn.durable\ndef fetch(x):\n    with open('fetch.txt', 'a') as fh:\n        fh.write('x')\n"
    "    return {'x': x, 'sq': x * x}\n"
    "got = [fetch(i) for i in range(3)]\n"
    "import pathlib\nif not pathlib.Path('go').exists():\n    raise RuntimeError('not yet')\n",
}
NAMES = {"np", "arr", "config", "words"}
CHECK = "(int(arr.sum()), config, len(words), words[-1])"
GOOD = "(39999800000, {'lr': 0.1}, 60000, 'w59999')"


class Marker:
    """Unpickling this creates the file `pwned`: what a hostile sidecar could do."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, ("open('pwned', 'w').close()",))


def cell(step: str) -> str:
    return f"%%mn_step {step}\n{CELLS[step]}"


def mn_trust(notebook: Path, key: Path) -> subprocess.CompletedProcess[str]:
    return mn(
        "trust",
        "--yes",
        notebook.name,
        cwd=notebook.parent,
        timeout=120,
        env={"MIRRORNEURON_KEY_FILE": str(key)},
    )


def resume_as(workdir: Path, notebook: Path, key: Path) -> tuple[Kernel, str]:
    kernel = Kernel(
        workdir, env={"JPY_SESSION_NAME": str(notebook), "MIRRORNEURON_KEY_FILE": str(key)}
    )
    run(kernel, "%load_ext mirrorneuron_nb")
    return kernel, run(kernel, "%mn_resume").stdout


def write_as_someone_else(workdir: Path) -> Path:
    """The notebook's sidecar, written under the default (test) key: another user's."""
    notebook = workdir / "nb.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(cell(s)) for s in CELLS]), notebook)
    kernel = Kernel(workdir, env={"JPY_SESSION_NAME": str(notebook)})
    try:
        run(kernel, "%load_ext mirrorneuron_nb")
        run(kernel, cell("make"))
        run(kernel, cell("words"))
        failed = kernel.run(cell("calls"), check=False)
        assert failed.error is not None and failed.error["ename"] == "RuntimeError"
    finally:
        kernel.shutdown()
    assert (workdir / "fetch.txt").read_text() == "xxx"
    return notebook


def test_trust_makes_a_foreign_sidecar_loadable_and_tampering_is_still_caught(
    workdir: Path, hermetic: Path
) -> None:
    notebook = write_as_someone_else(workdir)
    mine = hermetic / "mine.key"

    # Under this user's key nothing pickled is loaded, and the report says how to trust it.
    kernel, report = resume_as(workdir, notebook, mine)
    try:
        assert "restored 0 variable(s)" in report, report
        missing = not_restored(report)
        assert set(missing) == NAMES, report
        for reason in missing.values():
            assert UNTRUSTED in reason, report
            assert "run `mn-nb trust nb.ipynb` if you trust it" in reason, report
        assert value(kernel, f"[n for n in {sorted(NAMES)!r} if n in globals()]") == "[]"
    finally:
        kernel.shutdown()

    result = mn_trust(notebook, mine)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("mn-nb: WARNING: trusting "), result.stderr
    assert "run code" in result.stderr.splitlines()[0]
    # 4 checkpoint values + 3 durable-call results; nothing was signed with this key before.
    assert "signed 7 value(s) with your key (0 already were)" in result.stdout, result.stdout
    # What it signed was listed first: steps, variables with types, outputs.
    assert "step make, checkpoint 1:" in result.stdout, result.stdout
    assert "arr: numpy.ndarray, 1.6 MB [sign]" in result.stdout, result.stdout

    kernel, report = resume_as(workdir, notebook, mine)
    try:
        assert not not_restored(report), report
        assert "restored 4 variable(s) from 2 step(s)" in report, report
        assert value(kernel, CHECK) == GOOD
        # The recorded durable calls are trusted too: the step replays them, not re-runs.
        (workdir / "go").touch()
        out = run(kernel, cell("calls"))
        assert "durable calls: 3 made: 3 replayed, 0 run" in out.stderr, out.text
        assert (workdir / "fetch.txt").read_text() == "xxx"
        assert value(kernel, "got") == "[{'x': 0, 'sq': 0}, {'x': 1, 'sq': 1}, {'x': 2, 'sq': 4}]"
    finally:
        kernel.shutdown()
    again = mn_trust(notebook, mine)
    assert again.returncode == 0 and "signed 0 value(s)" in again.stdout, again.stdout

    # Tampering after trusting: an inline stream replaced by a hostile pickle (refused by
    # its signed hash before any byte is unpickled) and a stream blob altered on disk
    # (refused by its hash).
    sidecar = workdir / "nb.mn"
    store = Store(sidecar, readonly=True)
    try:
        words = next(v for v in store.current_variables()["words"] if v.name == "words")
    finally:
        store.close()
    assert words.stream_blob is not None
    with sqlite3.connect(sidecar / "state.sqlite") as db:
        db.execute(
            "UPDATE checkpoint_vars SET header=? WHERE name='config'",
            (pickle.dumps(Marker(), protocol=5),),
        )
    blob = sidecar / "blobs" / words.stream_blob[:2] / words.stream_blob[2:]
    data = bytearray(blob.read_bytes())
    data[-10] ^= 0x01
    blob.write_bytes(bytes(data))

    kernel, report = resume_as(workdir, notebook, mine)
    try:
        missing = not_restored(report)
        assert set(missing) == {"config", "words"}, report
        # The row's signature still verifies, but it covers the stream's hash: the
        # replaced stream is refused before a byte of it is unpickled.
        assert "does not match its signed hash" in missing["config"], report
        assert "corrupted" in missing["words"], report
        assert value(kernel, "int(arr.sum())") == "39999800000"
    finally:
        kernel.shutdown()
    assert not (workdir / "pwned").exists()


def test_trust_does_not_sign_a_value_whose_blob_is_damaged(workdir: Path, hermetic: Path) -> None:
    notebook = write_as_someone_else(workdir)
    mine = hermetic / "mine.key"
    sidecar = workdir / "nb.mn"
    store = Store(sidecar, readonly=True)
    try:
        arr = next(v for v in store.current_variables()["make"] if v.name == "arr")
    finally:
        store.close()
    key = arr.buffers[0][0]
    blob = sidecar / "blobs" / key[:2] / key[2:]
    data = bytearray(blob.read_bytes())
    data[0] ^= 0x01
    blob.write_bytes(bytes(data))

    result = mn_trust(notebook, mine)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "signed 6 value(s) with your key" in result.stdout, result.stdout
    damaged = result.stderr.splitlines()[1:]
    assert damaged[0].startswith("mn-nb: 1 value(s) not signed, their data is damaged"), damaged
    assert damaged[1].startswith("  step make, checkpoint 1: arr: blob "), damaged
    assert key in damaged[1] and "corrupted" in damaged[1], damaged

    kernel, report = resume_as(workdir, notebook, mine)
    try:
        assert set(not_restored(report)) == {"arr"}, report
        assert value(kernel, "(config, len(words))") == "({'lr': 0.1}, 60000)"
    finally:
        kernel.shutdown()
