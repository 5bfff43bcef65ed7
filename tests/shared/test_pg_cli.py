"""`mn-nb --store URL` against a real PostgreSQL: a failed batch run resumes from the shared
store with nothing written beside the notebook; commands that only make sense for a
sidecar file, and a bad URL, are one line with exit 2."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..batch.test_batch import counts, write_notebook
from ..helpers import mn


def test_batch_run_resumes_from_the_shared_store(pg_url: str, workdir: Path) -> None:
    write_notebook(workdir / "analysis.ipynb")
    (workdir / "outage.flag").touch()
    env = {"MIRRORNEURON_PROJECT": "cli-" + workdir.parent.name}
    store = ("--store", pg_url)
    first = mn(*store, "run", "analysis.ipynb", cwd=workdir, env=env)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "run failed at step 'fit': ConnectionError: API outage" in first.stderr
    (workdir / "outage.flag").unlink()
    second = mn(*store, "run", "analysis.ipynb", cwd=workdir, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert counts(workdir) == Counter(load=1, prep=1, fit=2, report=1)
    assert sorted(p.name for p in workdir.iterdir()) == ["analysis.ipynb", "counts.txt"]
    status = mn(*store, "status", "analysis.ipynb", cwd=workdir, env=env)
    assert status.returncode == 0 and "report" in status.stdout, status.stderr

    doctor = mn(*store, "doctor", "analysis.ipynb", cwd=workdir, env=env)
    assert doctor.returncode == 2
    assert doctor.stderr.strip() == (
        "mn-nb: error: doctor: not available for a PostgreSQL store; use pg_dump/pg_amcheck"
    )
    bad = mn("--store", "mysql://db/x", "status", "analysis.ipynb", cwd=workdir)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert "MIRRORNEURON_STORE must be a postgresql:// URL" in bad.stderr


def test_push_then_pull_elsewhere_resumes(pg_url: str, tmp_path: Path) -> None:
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    for where in (mine, theirs):
        where.mkdir()
        write_notebook(where / "analysis.ipynb")
    env = {"MIRRORNEURON_PROJECT": "push-" + tmp_path.name}
    assert mn("run", "analysis.ipynb", cwd=mine).returncode == 0  # a plain sidecar
    pushed = mn("--store", pg_url, "push", "analysis.ipynb", cwd=mine, env=env)
    assert pushed.returncode == 0, pushed.stderr
    assert "4 steps" in pushed.stdout and "blob files" in pushed.stdout, pushed.stdout
    again = mn("--store", pg_url, "push", "analysis.ipynb", cwd=mine, env=env)
    assert again.returncode == 2 and "--replace" in again.stderr, again.stderr
    pulled = mn("--store", pg_url, "pull", "analysis.ipynb", cwd=theirs, env=env)
    assert pulled.returncode == 0, pulled.stderr
    # The colleague's run restores every step from the pulled sidecar: no body runs.
    run = mn("run", "analysis.ipynb", cwd=theirs)
    assert run.returncode == 0, run.stdout + run.stderr
    progress = [line.split()[:2] for line in run.stdout.splitlines() if line.startswith("  ")]
    assert [p[1] for p in progress[:4]] == ["restored"] * 4, run.stdout
    assert counts(theirs) == Counter()
    lonely = mn("push", "analysis.ipynb", cwd=mine)
    assert lonely.returncode == 2 and "no shared store" in lonely.stderr
