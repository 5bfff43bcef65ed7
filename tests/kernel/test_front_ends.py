"""The kernel finds its notebook in front ends other than a Jupyter server, and its outputs
read as plain text where no HTML is drawn: VS Code (`__vsc_ipynb_file__`), `jupyter
nbconvert --execute` (a real run, then `mn-nb status`), and a terminal `ipython`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from ..helpers import mn, run, sidecar
from ..kernels import Kernel
from ..messages import RESTORED

pytestmark = pytest.mark.kernel

BIN = Path(sys.executable).parent
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
LOAD = "%load_ext mirrorneuron_nb"


def write(path: Path, cells: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = new_notebook(cells=[new_code_cell(c) for c in cells], metadata={"kernelspec": KERNELSPEC})
    nbformat.write(nb, path)
    return path


def test_vscode_names_the_notebook_before_the_first_step(kernel: Kernel, workdir: Path) -> None:
    notebook = write(workdir / "project" / "knn.ipynb", [LOAD, "%%mn_step fit\nk = 3\n"])
    # VS Code sets this in the namespace; the extension is already loaded (the fixture).
    run(kernel, f"__vsc_ipynb_file__ = {str(notebook)!r}")
    first = run(kernel, "%%mn_step fit\nk = 3\n")
    assert (workdir / "project" / "knn.mn" / "state.sqlite").is_file()
    assert not sidecar(workdir).exists()
    assert "MIRRORNEURON_SIDECAR" not in first.notes  # it knows its notebook: no notice


def nbconvert(folder: Path, name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "jupyter-nbconvert"), "--to", "notebook", "--execute", name],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
    )


def output_texts(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [
        o.get("text", "") or o.get("data", {}).get("text/plain", "")
        for c in nb.cells
        for o in c.get("outputs", [])
    ]


def test_nbconvert_execute_uses_the_notebooks_own_sidecar(workdir: Path) -> None:
    knn = write(workdir / "knn.ipynb", [LOAD, "%%mn_step fit\nk = 3\nprint('fitted', k)\n"])
    write(workdir / "other.ipynb", [LOAD, "%%mn_step other\nz = 1\n"])

    done = nbconvert(workdir, "knn.ipynb")
    assert done.returncode == 0, done.stderr
    assert (workdir / "knn.mn" / "state.sqlite").is_file()
    assert not sidecar(workdir).exists()  # no shared ./mirrorneuron.mn
    status = mn("status", str(knn), timeout=120)
    assert status.returncode == 0, status.stderr
    assert "fit " in status.stdout, status.stdout
    assert not (workdir / "other.mn").exists()  # the folder's other notebook: untouched

    # Again, with nbconvert's copy (knn.nbconvert.ipynb, the same cells) beside it: the
    # input is still the notebook, and its step is restored.
    again = nbconvert(workdir, "knn.ipynb")
    assert again.returncode == 0, again.stderr
    texts = output_texts(workdir / "knn.nbconvert.ipynb")
    assert any(t.startswith(f"mn_step fit: {RESTORED}") for t in texts), texts
    assert not (workdir / "knn.nbconvert.mn").exists() and not sidecar(workdir).exists()


def test_terminal_ipython_shows_plain_text(workdir: Path) -> None:
    step = "%%mn_step one\nx = 41 + 1\nprint('x is', x)\n\n\n"
    session = f"{LOAD}\n{step}{step}%mn_status\n%mn_status --timeline\nexit\n"
    done = subprocess.run(
        [str(BIN / "ipython"), "--simple-prompt", "--no-banner", "--colors=NoColor"],
        cwd=workdir,
        input=session,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    out = done.stdout
    assert "<div" not in out and "<table" not in out  # the text/plain renderings
    assert out.count("x is 42") == 2  # ran, then its output replayed
    assert f"mn_step one: {RESTORED} of " in out
    assert out.count("MIRRORNEURON_SIDECAR") == 1  # the sidecar notice, once
    assert "one   cached" in out and "restored 1 step: saved " in out
