"""Every coverage group, largest first (so two workers finish at about the same time)."""

from __future__ import annotations

from . import (
    cases_classes,
    cases_data,
    cases_kernel,
    cases_ml,
    cases_numpy,
    cases_plots,
    cases_python,
    cases_science,
    cases_stdlib,
)
from .model import Case, Group

GROUPS: tuple[Group, ...] = (
    *cases_plots.GROUPS,
    *cases_science.GROUPS,
    *cases_ml.GROUPS,
    *cases_stdlib.GROUPS,
    *cases_numpy.GROUPS,
    *cases_data.GROUPS,
    *cases_python.GROUPS,
    *cases_classes.GROUPS,
    *cases_kernel.GROUPS,
)


def all_cases() -> list[tuple[Group, Case]]:
    return [(g, c) for g in GROUPS for c in g.cases]
