"""The coverage table (Markdown), one row per library, written when MN_COVERAGE_REPORT is set."""

from __future__ import annotations

from .model import EQUAL, ERROR, NAMED_LOSS, NOTE, SILENT, SKIPPED, CaseResult, GroupResult

REPORT_ENV = "MN_COVERAGE_REPORT"
COLUMNS = [
    "library",
    "cases",
    "equal",
    "named loss",
    "silent difference",
    "needless re-run",
    "false stale",
    "step error",
    "skipped",
]


def _row(lib: str, results: list[CaseResult]) -> list[str]:
    def count(outcome: str) -> int:
        return sum(r.outcome == outcome for r in results)

    lost = count(NAMED_LOSS)
    unexpected = sum(
        r.outcome == NAMED_LOSS and any("not expected" in p for p in r.problems) for r in results
    )
    return [
        lib,
        str(len(results)),
        str(count(EQUAL)),
        f"{lost} ({unexpected} unexpected)" if unexpected else str(lost),
        str(count(SILENT)),
        str(sum(r.needless_rerun for r in results)),
        str(sum(r.false_stale for r in results)),
        str(count(ERROR)),
        str(count(SKIPPED)),
    ]


def table(groups: list[GroupResult]) -> str:
    by_lib: dict[str, list[CaseResult]] = {}
    for group in groups:
        for result in group.cases.values():
            by_lib.setdefault(result.case.lib, []).append(result)
    everything = [r for rs in by_lib.values() for r in rs]
    rows = [_row(lib, rs) for lib, rs in by_lib.items()] + [_row("**total**", everything)]
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def summary(groups: list[GroupResult], seconds: float, workers: int) -> str:
    everything = [r for g in groups for r in g.cases.values()]
    measured = [r for r in everything if r.outcome != SKIPPED]
    can_be_equal = [r for r in measured if not r.case.lost]
    equal = sum(r.outcome == EQUAL for r in can_be_equal)
    share = 100.0 * equal / len(can_be_equal) if can_be_equal else 0.0
    passed = sum(not r.failures() for r in measured)
    return (
        f"{len(everything)} cases over {len({r.case.lib for r in everything})} libraries and "
        f"language features; {len(measured)} measured, {passed} pass. Equal: {equal} of the "
        f"{len(can_be_equal)} cases that declare no loss ({share:.1f}%). Wall time "
        f"{seconds:.0f} s ({len(groups)} kernel sessions, {workers} at a time)."
    )


def failures(groups: list[GroupResult]) -> str:
    lines = []
    for group in groups:
        for name, result in group.cases.items():
            found = result.failures() if result.outcome != SKIPPED else []
            if found:
                lines.append(f"- `{name}` ({result.case.lib}): " + "; ".join(found))
    return "\n".join(lines) or "none"


def notes(groups: list[GroupResult]) -> str:
    """What the harness noticed about itself: a comparison that changed a value's
    fingerprint (it would cause the re-run it then counts), a declared loss that came back."""
    lines = [line for g in groups for line in g.log if line.startswith(NOTE)]
    found = [f"- {line[len(NOTE) :]}" for line in dict.fromkeys(lines)]
    return "\n".join(found) or "none"


def markdown(groups: list[GroupResult], seconds: float, workers: int) -> str:
    return (
        f"{summary(groups, seconds, workers)}\n\n{table(groups)}\n\n"
        f"Failing cases:\n\n{failures(groups)}\n\nHarness notes:\n\n{notes(groups)}\n"
    )
