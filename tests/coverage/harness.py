"""Measure one group of cases in real kernels: one notebook, one restart, one resume.

Order (one kernel session for the whole group, so the suite stays fast):
all create steps, all mutate steps -> restart -> `%mn_resume` -> `mn-nb status --json`
-> compare with a plain run -> re-run every step (each must be served: banner, and the
counter file its body appends to is unchanged) -> compare again -> status again.
"""

from __future__ import annotations

import ast
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from ..helpers import mn, not_restored, tick
from ..kernels import Execution, Kernel
from ..messages import RESTORED
from .model import (
    ERROR,
    NAMED_LOSS,
    NOTE,
    SILENT,
    SKIPPED,
    Case,
    CaseResult,
    Group,
    GroupResult,
)

MARK = "@@mn-coverage@@"
_MISSING_STEP = re.compile(r"^\(step (\S+)\): (.*?)(?: -> re-run step .*)?$")


def run_group(group: Group, root: Path, env: dict[str, str]) -> GroupResult:
    began = time.perf_counter()
    work = root / group.name
    (work / "counts").mkdir(parents=True)
    notebook = work / f"{group.name}.ipynb"
    results = {c.name: CaseResult(c) for c in group.cases}
    log: list[str] = []
    kernel = Kernel(work, env={**env, "JPY_SESSION_NAME": str(notebook)})
    try:
        missing = _missing_modules(kernel, group)
        cases = [c for c in group.cases if not set(c.requires) & missing]
        for c in group.cases:
            if set(c.requires) & missing:
                results[c.name].outcome = SKIPPED
                names = ", ".join(sorted(set(c.requires) & missing))
                results[c.name].skip_reason = f"{names} not importable in the kernel"
        cells = _cells(cases, work)
        nbformat.write(_notebook(cells), notebook)
        plain = _plain_kernel(group, cases, work, env) if group.plain_kernel else {}
        Session(kernel, cases, cells, results, log, work, notebook, plain, env).measure()
    finally:
        kernel.shutdown()
    return GroupResult(group, results, time.perf_counter() - began, log)


@dataclass
class Session:
    """The measuring of one group inside its kernel."""

    kernel: Kernel
    cases: list[Case]
    cells: list[tuple[Case, str, str]]
    """(case, step name, cell source) in notebook order."""
    results: dict[str, CaseResult]
    log: list[str]
    work: Path
    notebook: Path
    plain: dict[str, Any]
    """Each case's probe result in the plain kernel (groups that use one)."""
    env: dict[str, str]

    def measure(self) -> None:
        if not self.cases:
            return
        self.kernel.run("%load_ext mirrorneuron_nb")
        broken = set()
        for case, step, source in self.cells:
            out = self._step(step, source)
            if out.error is not None:
                self.results[case.name].add(ERROR, f"{step} failed on its first run: {_err(out)}")
                broken.add(case.name)
        # What follows from a step that never succeeded (missing values, re-runs) is noise.
        self.cases = [c for c in self.cases if c.name not in broken]
        self.cells = [cell for cell in self.cells if cell[0].name not in broken]
        self.kernel.restart()
        self.kernel.run("%load_ext mirrorneuron_nb")
        report = self.kernel.run("%mn_resume", check=False)
        self.log.append(report.text)
        self._resume_report(report)
        self._status("after the resume")
        self._compare("after the resume")
        self._rerun()
        self._compare("after re-running every step")
        self._status("after re-running every step")

    def _step(self, step: str, source: str) -> Execution:
        return self.kernel.run(source, check=False, cell_id=step, timeout=300)

    def _resume_report(self, report: Execution) -> None:
        if report.error is not None:
            for case in self.cases:
                self.results[case.name].add(ERROR, f"%mn_resume failed: {_err(report)}")
            return
        by_step = {step: case for case in self.cases for step in case.steps}
        for name, rest in not_restored(report.stdout).items():
            found = _MISSING_STEP.match(rest)
            case = by_step.get(found.group(1)) if found else None
            if case is not None and found is not None:
                self.results[case.name].lost[name] = found.group(2)
        for line in report.stdout.splitlines():
            for step, case in by_step.items():
                if line.startswith(f"step '{step}'"):
                    self.results[case.name].add(ERROR, f"%mn_resume: {line}")

    def _status(self, when: str) -> None:
        done = mn("status", str(self.notebook), "--json", cwd=self.work, env=self.env)
        if done.returncode != 0:
            for case in self.cases:
                self.results[case.name].add(ERROR, f"mn-nb status failed {when}: {done.stderr}")
            return
        rows = {s["name"]: s for s in json.loads(done.stdout)["steps"]}
        for case in self.cases:
            for step in case.steps:
                row = rows.get(step)
                if row is not None and row["status"] == "stale":
                    result = self.results[case.name]
                    result.stale.append(f"{step} {when}: {row['stale_reason']}")

    def _rerun(self) -> None:
        for case, step, source in self.cells:
            before = _count(self.work, step)
            out = self._step(step, source)
            ran = _count(self.work, step) - before
            result = self.results[case.name]
            expected = dict(zip(case.steps, ("create", "mutate"), strict=True))[step]
            if expected in case.always_runs:
                if not ran or "always runs" not in out.text:
                    result.rerun.append(f"{step} should always run, saying why")
                continue
            if ran:
                why = _first(out.text) if out.text.strip() else "no banner, no message"
                result.rerun.append(f"{step} executed again on re-run ({why})")
            elif out.error is not None:
                result.add(ERROR, f"{step} failed on re-run: {_err(out)}")
            elif RESTORED not in out.notes:
                result.rerun.append(f"{step} was not served from its checkpoint")

    def _compare(self, when: str) -> None:
        """Plain values vs resumed ones (in this kernel), or probes vs the plain kernel."""
        checks = self._in_kernel("checks", when)
        for case in self.cases:
            self._presence(case, checks.get(case.name, {}), when)
        values = self._in_kernel("probes" if self.plain else "compare", when)
        for case in self.cases:
            found = values.get(case.name, {})
            if self.plain:
                self._probe(case, found, when)
            else:
                self._values(case, found, when)

    def _in_kernel(self, entry: str, when: str) -> dict[str, Any]:
        out = self.kernel.run(kernel_cell(entry, self.cases, bool(self.plain)), check=False)
        lines = [x for x in out.stdout.splitlines() if x.startswith(MARK)]
        if out.error is not None or not lines:
            self.log.append(f"harness cell failed {when}: {_err(out)}\n{out.stderr[-2000:]}")
            for case in self.cases:
                self.results[case.name].add(ERROR, f"comparison {when} failed: {_err(out)}")
            return {}
        found: dict[str, Any] = json.loads(lines[-1][len(MARK) :])
        return found

    def _presence(self, case: Case, found: dict[str, Any], when: str) -> None:
        result = self.results[case.name]
        if found.get("plain_error"):
            result.add(ERROR, f"the plain run failed: {found['plain_error']}")
            return
        for name in found.get("absent", []):
            reason = result.lost.get(name)
            if reason is None:
                result.add(SILENT, f"{name!r} is missing {when} and no report names it")
            elif name in case.lost:
                result.add(NAMED_LOSS, f"named loss (declared) {name!r}: {reason}")
            else:
                result.add(NAMED_LOSS, f"named loss (not expected) {name!r} {when}: {reason}")
        for name in case.lost:
            if name not in found.get("absent", []) and name in found.get("present", []):
                self.log.append(f"{NOTE}{case.name}: {name!r} declared lost, came back {when}")
        for expr, (got, plain) in found.get("checks", {}).items():
            if plain is not True:
                result.add(ERROR, f"check {expr!r} is not true in a plain run ({plain})")
            elif got is not True and not _lost_root(expr, result):
                result.add(SILENT, f"check {expr!r} is {got} {when}")

    def _values(self, case: Case, found: dict[str, Any], when: str) -> None:
        result = self.results[case.name]
        if found.get("plain_error"):
            result.add(ERROR, f"the plain run failed: {found['plain_error']}")
            return
        for name in found.get("unstable", []):
            self.log.append(f"{NOTE}{case.name}: {name}'s fingerprint differs between two reads")
        for name in found.get("touched", []):
            self.log.append(f"{NOTE}{case.name}: comparing {when} changed {name}'s fingerprint")
        for expr, diff in found.get("values", {}).items():
            if diff is not None and not _lost_root(expr, result):
                result.add(SILENT, f"{expr} differs from a plain run {when}: {diff}")

    def _probe(self, case: Case, found: dict[str, Any], when: str) -> None:
        result = self.results[case.name]
        expected = self.plain.get(case.name)
        got = found.get("probe")
        if expected is None or expected.startswith("error:"):
            result.add(ERROR, f"the plain kernel's probe failed: {expected}")
        elif got != expected and not (result.lost and str(got).startswith("error:")):
            # (a probe that fails on a value the resume named as lost adds nothing)
            result.add(SILENT, f"probe {when}: {got} != plain kernel's {expected}")


def _lost_root(expr: str, result: CaseResult) -> bool:
    """A comparison of a value the resume named as lost says nothing more."""
    names = {n.id for n in ast.walk(ast.parse(expr, mode="eval")) if isinstance(n, ast.Name)}
    return bool(names & set(result.lost))


_SOURCES = [Path(__file__).with_name(f) for f in ("compare.py", "compare_libs.py", "inkernel.py")]


def kernel_cell(entry: str, cases: list[Case], probe_group: bool) -> str:
    """A cell calling `entry` of the suite's private in-kernel module (made on first use)."""
    data = [
        {
            "name": c.name,
            "create": c.create,
            "mutate": c.mutate,
            "compare": list(c.compare),
            "checks": list(c.checks),
            "names": list(case_names(c)),
            "probe": c.probe,
            "probe_group": probe_group,
        }
        for c in cases
    ]
    return (
        "def _mncov(entry, cases):\n"
        "    import json, sys, types\n"
        "    mod = sys.modules.get('_mn_coverage')\n"
        "    if mod is None:\n"
        "        mod = types.ModuleType('_mn_coverage')\n"
        f"        for path in {[str(p) for p in _SOURCES]!r}:\n"
        "            with open(path) as fh:\n"
        "                exec(compile(fh.read(), path, 'exec'), mod.__dict__)\n"
        "        sys.modules['_mn_coverage'] = mod\n"
        "    found = getattr(mod, entry)(get_ipython().user_ns, cases)\n"
        f"    print({MARK!r} + json.dumps(found, default=repr))\n"
        f"_mncov({entry!r}, {data!r})\n"
        "del _mncov\n"
    )


def case_names(case: Case) -> tuple[str, ...]:
    """The variables a case's code binds (its declared names when magics hide them)."""
    if case.names:
        return case.names
    found: list[str] = []
    for body in (case.create, case.mutate):
        try:
            tree = ast.parse(body)
        except SyntaxError:
            continue
        for node in tree.body:
            for name in _bound(node):
                if not name.startswith("_") and name not in found:
                    found.append(name)
    return tuple(found)


def _bound(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and node.value is not None:
        targets = [node.target]
    elif isinstance(node, (ast.For, ast.With)):
        targets = (
            [node.target]
            if isinstance(node, ast.For)
            else [i.optional_vars for i in node.items if i.optional_vars is not None]
        )
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def _missing_modules(kernel: Kernel, group: Group) -> set[str]:
    modules = sorted({m for c in group.cases for m in c.requires})
    code = (
        "def _mncov_try(names):\n"
        "    import importlib\n    bad = []\n"
        "    for n in names:\n"
        "        try:\n            importlib.import_module(n)\n"
        "        except Exception:\n            bad.append(n)\n"
        "    return bad\n"
        f"print({MARK!r} + repr(_mncov_try({modules!r})))\ndel _mncov_try\n"
    )
    out = kernel.run(code)
    line = next(x for x in out.stdout.splitlines() if x.startswith(MARK))
    return set(ast.literal_eval(line[len(MARK) :]))


def _cells(cases: list[Case], work: Path) -> list[tuple[Case, str, str]]:
    """Every create step, then every mutate step: the notebook's order."""
    out: list[tuple[Case, str, str]] = []
    for index, attr in enumerate(("create", "mutate")):
        for case in cases:
            step = case.steps[index]
            counter = str(work / "counts" / step)
            body = getattr(case, attr).strip("\n") + "\n"
            out.append((case, step, f"%%mn_step {step}\n{body}{tick(counter)}"))
    return out


def _notebook(cells: list[tuple[Case, str, str]]) -> Any:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(source.rstrip("\n"), id=step) for _, step, source in cells
    ]
    return nb


def _plain_kernel(
    group: Group, cases: list[Case], work: Path, env: dict[str, str]
) -> dict[str, Any]:
    """Run the same code as plain cells in a fresh kernel and read each case's probe."""
    kernel = Kernel(work, env=env)
    try:
        for attr in ("create", "mutate"):
            for case in cases:
                kernel.run(getattr(case, attr), check=False, timeout=300)
        out = kernel.run(kernel_cell("probes", cases, True), check=False)
    finally:
        kernel.shutdown()
    line = next((x for x in out.stdout.splitlines() if x.startswith(MARK)), None)
    if line is None:
        return {c.name: f"error:plain probe cell failed: {_err(out)}" for c in cases}
    probes: dict[str, dict[str, str]] = json.loads(line[len(MARK) :])
    return {name: found.get("probe") for name, found in probes.items()}


def _count(work: Path, step: str) -> int:
    path = work / "counts" / step
    return len(path.read_text()) if path.exists() else 0


def _err(out: Execution) -> str:
    if out.error is None:
        return "no output"
    return f"{out.error.get('ename')}: {str(out.error.get('evalue'))[:300]}"


def _first(text: str) -> str:
    lines = [x for x in text.splitlines() if x.strip()]
    return lines[0][:200] if lines else "no message"
