"""`mn-nb --store URL` against a real PostgreSQL, with two batch runs in all: a run on the
shared store writes nothing beside its notebook; `pull` brings its steps into a sidecar in
another directory, where the next run restores every step; `push` refuses to overwrite
without --replace; commands for sidecar files only, and a bad URL, are one line, exit 2."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..batch.test_batch import counts, write_notebook
from ..helpers import mn


def test_run_on_the_shared_store_then_pull_and_push(pg_url: str, tmp_path: Path) -> None:
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    for where in (mine, theirs):
        where.mkdir()
        write_notebook(where / "analysis.ipynb")
    env = {"MIRRORNEURON_PROJECT": "cli-" + tmp_path.name}
    store = ("--store", pg_url)
    first = mn(*store, "run", "analysis.ipynb", cwd=mine, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert counts(mine) == Counter(load=1, prep=1, fit=1, report=1)
    assert sorted(p.name for p in mine.iterdir()) == ["analysis.ipynb", "counts.txt"]
    status = mn(*store, "status", "analysis.ipynb", cwd=mine, env=env)
    assert status.returncode == 0 and "report" in status.stdout, status.stderr

    pulled = mn(*store, "pull", "analysis.ipynb", cwd=theirs, env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert "4 steps" in pulled.stdout and "blob files" in pulled.stdout, pulled.stdout
    # A colleague's run on the pulled sidecar restores every step: no body runs there.
    second = mn("run", "analysis.ipynb", cwd=theirs)
    assert second.returncode == 0, second.stdout + second.stderr
    progress = [line.split()[:2] for line in second.stdout.splitlines() if line.startswith("  ")]
    assert [p[1] for p in progress[:4]] == ["restored"] * 4, second.stdout
    assert counts(theirs) == Counter()

    refused = mn(*store, "push", "analysis.ipynb", cwd=theirs, env=env)
    assert refused.returncode == 2 and "--replace" in refused.stderr, refused.stderr
    pushed = mn(*store, "push", "analysis.ipynb", "--replace", cwd=theirs, env=env)
    assert pushed.returncode == 0 and "pushed analysis.ipynb" in pushed.stdout, pushed.stderr
    lonely = mn("push", "analysis.ipynb", cwd=theirs)
    assert lonely.returncode == 2 and "no shared store" in lonely.stderr, lonely.stderr

    doctor = mn(*store, "doctor", "analysis.ipynb", cwd=mine, env=env)
    assert doctor.returncode == 2
    assert doctor.stderr.strip() == (
        "mn-nb: error: doctor: not available for a PostgreSQL store; use pg_dump/pg_amcheck"
    )
    bad = mn("--store", "mysql://db/x", "status", "analysis.ipynb", cwd=mine)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert "MIRRORNEURON_STORE must be a postgresql:// URL" in bad.stderr
