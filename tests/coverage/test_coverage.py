"""The library coverage suite: each case is a value or setting of a library made in one step,
changed in another, then checked after a real kernel restart and `%mn_resume` against a
plain run of the same code, and re-run to prove both steps are served from their
checkpoints and shown fresh. A case passes when its value comes back equal (or is named as
lost, when the case declares that it cannot be checkpointed) and nothing ran needlessly or
was shown stale. See conftest.py for how groups share a kernel session."""

from __future__ import annotations

import pytest

from .catalog import all_cases
from .conftest import Coverage
from .known_failures import KNOWN_FAILURES
from .model import SKIPPED

pytestmark = pytest.mark.kernel


@pytest.mark.parametrize(
    ("group", "name"),
    [(g.name, c.name) for g, c in all_cases()],
    ids=[c.name for _, c in all_cases()],
)
def test_case(coverage: Coverage, group: str, name: str) -> None:
    measured = coverage.result(group)
    result = measured.cases[name]
    if result.outcome == SKIPPED:
        pytest.skip(result.skip_reason)
    failures = result.failures()
    known = KNOWN_FAILURES.get(name)
    if known is not None:
        assert failures, f"{name} passes now: remove it from tests/coverage/known_failures.py"
        pytest.xfail(f"known: {known}")
    assert not failures, f"{name} ({result.case.lib}), outcome {result.outcome}:\n" + "\n".join(
        f"  - {f}" for f in failures
    )
