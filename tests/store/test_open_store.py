"""Which store open_store picks, and who a notebook is in a shared store (no database
needed: these are the rules of configuration)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mirrorneuron_nb.errors import InvalidInput
from mirrorneuron_nb.store import Store, open_store
from mirrorneuron_nb.store.open import identity, shared_blobs


def test_unset_is_the_sidecar(tmp_path: Path) -> None:
    store = open_store(tmp_path / "nb.mn")
    try:
        assert type(store) is Store and store.backend == "sqlite"
        assert (tmp_path / "nb.mn" / "state.sqlite").is_file()
    finally:
        store.close()


def test_identity_is_project_and_path_under_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "checkout"
    (repo / ".git").mkdir(parents=True)
    (repo / "analysis").mkdir()
    notebook = repo / "analysis" / "model.ipynb"
    assert identity(notebook) == ("checkout", "analysis/model.ipynb")  # the git repository
    monkeypatch.setenv("MIRRORNEURON_PROJECT", "team")
    assert identity(notebook) == ("team", "analysis/model.ipynb")
    loose = tmp_path / "loose" / "nb.ipynb"
    assert identity(loose) == ("team", "nb.ipynb")  # no repository: its own directory
    monkeypatch.setenv("MIRRORNEURON_ROOT", str(repo / "analysis"))
    assert identity(notebook) == ("team", "model.ipynb")
    with pytest.raises(InvalidInput, match="is not inside the project root"):
        identity(loose)


def test_blob_directory_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cached = shared_blobs("mn_x")
    assert cached.location == str(tmp_path / "cache" / "mirrorneuron_nb" / "blobs" / "mn_x")
    monkeypatch.setenv("MIRRORNEURON_BLOBS", (tmp_path / "team").as_uri())
    assert shared_blobs("mn_x").location == str(tmp_path / "team" / "mn_x")
    monkeypatch.setenv("MIRRORNEURON_BLOBS", "memory://bucket/prefix")
    remote = shared_blobs("mn_x")
    assert remote.remote and remote.location == "memory://bucket/prefix/mn_x"


def test_bad_store_url_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIRRORNEURON_STORE", "sqlite:///tmp/x.db")
    with pytest.raises(InvalidInput, match=r"must be a postgresql:// URL .*got 'sqlite://\.\.\.'"):
        open_store(tmp_path / "nb.mn")
    assert not (tmp_path / "nb.mn").exists()
