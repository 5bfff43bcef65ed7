"""What a coverage case is, and what measuring it found.

A case is a value (or a process-wide setting) made in one `%%mn_step`, changed in a
second one, then checked after a real kernel restart and `%mn_resume` against a plain run
of the same code, and re-run to prove both steps are served from their checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    name: str
    """Unique in the suite: the test id and the suffix of the case's two step names."""
    lib: str
    """The row of the coverage table this case counts in."""
    create: str
    mutate: str
    compare: tuple[str, ...] = ()
    """Expressions (usually variable names) evaluated in the resumed namespace and in a
    plain run of the same code, compared with the semantic comparator (compare.py)."""
    checks: tuple[str, ...] = ()
    """Expressions that are true after a plain run and must be true after the resume
    (class identity with isinstance, shared references with `is`)."""
    lost: tuple[str, ...] = ()
    """Variables that cannot be checkpointed: the resume must name them, with a reason."""
    probe: str | None = None
    """Groups run in a plain kernel: code that sets `result` from the namespace and the
    process state; its repr must be the same in the plain kernel and after the resume."""
    requires: tuple[str, ...] = ()
    """Modules the case imports; the case skips, naming them, when one does not import."""
    names: tuple[str, ...] = ()
    """The variables the case binds, when magics hide them from the AST (else derived)."""
    always_runs: tuple[str, ...] = ()
    """Steps of the case (`create`, `mutate`) that must run every time, because they hold
    something no analysis can see through (`!cmd`): running again is expected there, and
    the status must say why."""

    @property
    def steps(self) -> tuple[str, str]:
        return (f"c_{self.name}", f"m_{self.name}")


def case(
    name: str,
    lib: str,
    requires: tuple[str, ...],
    create: str,
    mutate: str,
    *,
    compare: list[str] | None = None,
    checks: list[str] | None = None,
    lost: list[str] | None = None,
    probe: str | None = None,
    names: list[str] | None = None,
    always_runs: tuple[str, ...] = (),
) -> Case:
    return Case(
        name=name,
        lib=lib,
        create=create,
        mutate=mutate,
        compare=tuple(compare or ()),
        checks=tuple(checks or ()),
        lost=tuple(lost or ()),
        probe=probe,
        requires=requires,
        names=tuple(names or ()),
        always_runs=always_runs,
    )


@dataclass(frozen=True)
class Group:
    """The cases one kernel session measures: one notebook, one restart, one resume."""

    name: str
    cases: tuple[Case, ...]
    plain_kernel: bool = False
    """Compare `probe` results with a separate plain kernel (magics, process settings)
    instead of running the plain code inside the resumed kernel."""


EQUAL = "equal"
NAMED_LOSS = "named loss"
SILENT = "silent difference"
ERROR = "step error"
SKIPPED = "skipped"
NOTE = "note: "
"""The prefix of a harness note in GroupResult.log (listed under the table)."""


@dataclass
class CaseResult:
    case: Case
    outcome: str = EQUAL
    """equal, named loss, silent difference, step error or skipped."""
    problems: list[str] = field(default_factory=list)
    """Every finding, one line each (the test's failure message)."""
    lost: dict[str, str] = field(default_factory=dict)
    """Variables the resume named as not restored, with its reason."""
    rerun: list[str] = field(default_factory=list)
    """Steps that executed again (or were not served) when re-run after the resume."""
    stale: list[str] = field(default_factory=list)
    """Steps shown stale by `mn-nb status --json` although nothing changed."""
    skip_reason: str = ""

    @property
    def needless_rerun(self) -> bool:
        return bool(self.rerun)

    @property
    def false_stale(self) -> bool:
        return bool(self.stale)

    def add(self, outcome: str, problem: str) -> None:
        """Record a finding; the worst outcome wins (step error > silent > named loss)."""
        rank = [EQUAL, NAMED_LOSS, SILENT, ERROR]
        if rank.index(outcome) > rank.index(self.outcome):
            self.outcome = outcome
        if problem not in self.problems:  # the same finding after the resume and the re-run
            self.problems.append(problem)

    def failures(self) -> list[str]:
        """What fails the test: anything but the outcome the case declares."""
        out = [
            p
            for p in self.problems
            if not (self.outcome == NAMED_LOSS and p.startswith("named loss (declared)"))
        ]
        out += [f"needless re-run: {r}" for r in self.rerun]
        out += [f"false stale: {s}" for s in self.stale]
        return out


@dataclass
class GroupResult:
    group: Group
    cases: dict[str, CaseResult]
    seconds: float
    log: list[str] = field(default_factory=list)
    """The harness's own notes (resume report, status rows) for a failure message."""
