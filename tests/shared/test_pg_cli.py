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
