"""The server never reads or writes a sidecar outside its root: a real `jupyter server`
whose root holds notebooks whose `NAME.mn` (or a database file in it, or the notebook
itself) links to a sidecar elsewhere. Every endpoint refuses with a 4xx JSON error, and the
files outside are byte-for-byte what they were."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mirrorneuron_nb.errors import InvalidInput
from mirrorneuron_nb.server import queries
from mirrorneuron_nb.server.paths import resolve_notebook
from mirrorneuron_nb.sidecar import sidecar_beside
from mirrorneuron_nb.store.sqlite import DB_NAME

from ..server.builders import Kernelish, notebook
from ..server.process import ServerProcess, jupyter_server

STEPS = {"load": "x = 1", "gate": "y = x + 1"}
QUESTION = "ship it?"


def victim(outside: Path) -> Path:
    """A sidecar outside the root with a checkpoint (reset would drop it) and a step waiting
    for approval (approve would decide it), closed so its files hold still."""
    nb = notebook(outside / "victim.ipynb", STEPS)
    k = Kernelish(nb)
    k.succeed("load", STEPS["load"], {"x": 28})
    k.ask("gate", STEPS["gate"], QUESTION)
    k.close()
    return sidecar_beside(nb)


def snapshot(directory: Path) -> dict[str, str]:
    """Every file under `directory`: relative name -> sha256 of its bytes."""
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(root, outside sidecar). In the root:
    - dir_link.ipynb: its dir_link.mn is a symlink to the outside sidecar;
    - db_link.ipynb: db_link.mn is a real directory whose state.sqlite links outside;
    - wal_link.ipynb: wal_link.mn holds a copy of the database and a state.sqlite-wal and
      state.sqlite-shm that link to files outside;
    - nb_link.ipynb: the notebook itself is a symlink to the outside notebook."""
    base = tmp_path_factory.mktemp("confinement")
    root, outside = base / "root", base / "outside"
    root.mkdir()
    sidecar = victim(outside)
    for name in ("dir_link", "db_link", "wal_link"):
        notebook(root / f"{name}.ipynb", STEPS)
    (root / "dir_link.mn").symlink_to(sidecar, target_is_directory=True)
    (root / "db_link.mn").mkdir()
    (root / "db_link.mn" / DB_NAME).symlink_to(sidecar / DB_NAME)
    (root / "wal_link.mn").mkdir()
    shutil.copyfile(sidecar / DB_NAME, root / "wal_link.mn" / DB_NAME)
    for suffix in ("-wal", "-shm"):
        target = outside / f"precious{suffix}.txt"
        target.write_text("not a sidecar file\n")
        (root / "wal_link.mn" / (DB_NAME + suffix)).symlink_to(target)
    (root / "nb_link.ipynb").symlink_to(outside / "victim.ipynb")
    yield root, outside


@pytest.fixture(scope="module")
def server(
    tree: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    root, _ = tree
    with jupyter_server(root, tmp_path_factory.mktemp("server_home")) as s:
        yield s


REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "steps", {}),
    ("GET", "runs", {}),
    ("GET", "events", {}),
    ("GET", "step", {"name": "load"}),
    ("POST", "reset", {"name": "load"}),
    ("POST", "approve", {"name": "gate", "approve": True, "note": "from outside"}),
    ("POST", "approve", {"name": "gate", "approve": False}),
]


@pytest.mark.parametrize(("method", "endpoint", "fields"), REQUESTS)
@pytest.mark.parametrize("name", ["dir_link", "db_link", "wal_link", "nb_link"])
def test_links_out_of_the_root_are_refused_and_nothing_outside_changes(
    server: ServerProcess,
    tree: tuple[Path, Path],
    name: str,
    method: str,
    endpoint: str,
    fields: dict[str, Any],
) -> None:
    _, outside = tree
    before = snapshot(outside)
    path = f"{name}.ipynb"
    if method == "GET":
        query = "&".join([f"path={path}", *(f"{k}={v}" for k, v in fields.items())])
        reply = server.request("GET", server.api(endpoint, query))
    else:
        payload = json.dumps({"path": path, **fields}).encode()
        reply = server.request("POST", server.api(endpoint), payload)
    assert 400 <= reply.status < 500, (reply.status, reply.body)
    answer = reply.json()
    assert answer["code"] in ("path_outside_root", "unsafe_sidecar"), answer
    assert answer["message"] and "\n" not in answer["message"]
    assert snapshot(outside) == before


def test_a_link_swapped_in_after_the_check_is_refused_at_the_write(
    tmp_path: Path,
) -> None:
    # The request was checked while NAME.mn was a real sidecar inside the root; it is then
    # replaced by a link out before the write opens it: the write re-checks and refuses.
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    sidecar = victim(outside)
    nb = notebook(root / "swap.ipynb", STEPS)
    Kernelish(nb).close()
    for write in (
        lambda ref: queries.reset_step(ref, "load", 1000),
        lambda ref: queries.approve_step(ref, "gate", True, "me", None, 1000),
    ):
        if sidecar_beside(nb).is_symlink():
            sidecar_beside(nb).unlink()
        else:
            shutil.rmtree(sidecar_beside(nb))
        Kernelish(nb).close()
        ref = resolve_notebook(root, "swap.ipynb")
        before = snapshot(outside)
        shutil.rmtree(sidecar_beside(nb))
        sidecar_beside(nb).symlink_to(sidecar, target_is_directory=True)
        # PathOutsideRoot or UnsafeSidecar: both are bad input (a 4xx) for the server.
        with pytest.raises(InvalidInput, match=re.escape("sidecar of 'swap.ipynb'")):
            write(ref)
        assert snapshot(outside) == before
