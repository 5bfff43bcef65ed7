"""The case catalogue itself: big enough, well-formed, and each case independent of the
others in its kernel session (no two cases bind the same variable)."""

from __future__ import annotations

import ast

from .catalog import GROUPS, all_cases
from .harness import case_names


def test_catalog_covers_enough_cases_and_libraries() -> None:
    cases = all_cases()
    assert len(cases) >= 150
    assert len({c.lib for _, c in cases}) >= 25
    names = [c.name for _, c in cases]
    assert len(names) == len(set(names))


def test_cases_are_well_formed_and_independent() -> None:
    for group in GROUPS:
        owner: dict[str, str] = {}
        for case in group.cases:
            bound = case_names(case)
            assert bound or group.plain_kernel, f"{case.name}: binds no variable"
            for var in bound:
                assert owner.setdefault(var, case.name) == case.name, (
                    f"{var!r} is bound by both {owner[var]} and {case.name} in group {group.name}"
                )
            for expr in (*case.compare, *case.checks):
                ast.parse(expr, mode="eval")
            assert set(case.lost) <= set(bound), case.name
            if group.plain_kernel:
                assert case.probe, f"{case.name}: a plain-kernel group compares probes"
            else:
                assert case.compare, f"{case.name}: compares nothing"
