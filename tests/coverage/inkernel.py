"""The coverage suite's side inside a kernel: plain runs, checks, comparisons, probes.

Its source (with compare.py's) is exec'd into a private module, `_mn_coverage` in
sys.modules, so nothing the suite keeps is in the user's namespace, where a step could
read it. Each entry point takes the user namespace and the cases (plain dicts) and returns
something JSON can carry.
"""

from __future__ import annotations

import ast
import builtins
import traceback
from typing import Any

PLAIN_MODULE = "_mn_coverage_plain"
_plain: dict[str, dict[str, Any]] = {}
_plain_errors: dict[str, str] = {}


def _compile(code: str, name: str, mode: str) -> Any:
    """Compiled as a notebook cell would be: without this file's `from __future__ import
    annotations` (which would make every annotation of the case's classes a string)."""
    return compile(code, name, mode, dont_inherit=True)


def _line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]


def _run_plain(case: dict[str, Any]) -> None:
    """The case's code as plain Python in a fresh namespace of its own (once)."""
    if case["name"] in _plain or case["name"] in _plain_errors:
        return
    # Not "__main__": libraries that resolve names through sys.modules[cls.__module__]
    # (pydantic) would find the resumed classes; compare.py reads this name as __main__.
    ns: dict[str, Any] = {"__name__": PLAIN_MODULE, "__builtins__": builtins}
    _fresh_figure()
    try:
        for part in ("create", "mutate"):
            exec(_compile(case[part], f"<plain {case['name']} {part}>", "exec"), ns)
    except BaseException as exc:
        _plain_errors[case["name"]] = _line(exc) + "\n" + traceback.format_exc(limit=-3)
    _plain[case["name"]] = ns
    _close_new_figures()


def _fresh_figure() -> None:
    """A new current pyplot figure, so plain code that draws on plt.gca() (seaborn) never
    draws on a resumed figure that unpickling made current."""
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.figure()


def _close_new_figures() -> None:
    """Plain runs' pyplot figures are closed, so the harness cell does not render them
    (slow); the resumed ones, open before the plain runs, are left alone."""
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    for num in plt.get_fignums():
        if num not in _open_figures:
            plt.close(num)


_open_figures: set[int] = set()


def _roots(expr: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(expr, mode="eval")) if isinstance(n, ast.Name)}


def _eval(expr: str, ns: dict[str, Any]) -> Any:
    return eval(_compile(expr, "<coverage>", "eval"), ns)


def _fingerprints(ns: dict[str, Any], names: list[str]) -> dict[str, str]:
    """The product's fingerprints, to tell when a comparison changed what it read."""
    try:
        from mirrorneuron_nb.values.fingerprint import fingerprint
    except ImportError:
        return {}
    out = {}
    for name in names:
        if name in ns:
            try:
                out[name] = str(fingerprint(ns[name]))
            except Exception as exc:
                out[name] = f"error {type(exc).__name__}"
    return out


def checks(ns: dict[str, Any], cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Per case: its variables that are absent, and each check in both namespaces."""
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        _open_figures.update(plt.get_fignums())
    out: dict[str, Any] = {}
    for case in cases:
        plain = None
        if not case["probe_group"]:
            _run_plain(case)
            plain = _plain[case["name"]]
        if case["name"] in _plain_errors:
            out[case["name"]] = {"plain_error": _plain_errors[case["name"]]}
            continue
        absent = [n for n in case["names"] if n not in ns and (plain is None or n in plain)]
        found: dict[str, Any] = {
            "absent": absent,
            "present": [n for n in case["names"] if n in ns],
            "checks": {},
        }
        for expr in case["checks"]:
            found["checks"][expr] = [_safe_eval(expr, ns), _safe_eval(expr, plain or ns)]
        out[case["name"]] = found
    return out


def _safe_eval(expr: str, ns: dict[str, Any]) -> Any:
    try:
        value = _eval(expr, ns)
    except Exception as exc:
        return "error " + _line(exc)
    return value if isinstance(value, bool) else f"not a bool: {value!r:.80}"


def compare(ns: dict[str, Any], cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Per case: each compared expression, None when equal to the plain run, else why."""
    out: dict[str, Any] = {}
    for case in cases:
        _run_plain(case)
        if case["name"] in _plain_errors:
            out[case["name"]] = {"plain_error": _plain_errors[case["name"]]}
            continue
        plain = _plain[case["name"]]
        names = sorted({r for e in case["compare"] for r in _roots(e)} & set(ns))
        before = _fingerprints(ns, names)
        # A fingerprint that differs between two reads of an untouched value is the
        # product's (not deterministic); only the others can tell a comparison changed one.
        unstable = sorted(n for n, fp in _fingerprints(ns, names).items() if fp != before[n])
        values: dict[str, Any] = {}
        for expr in case["compare"]:
            missing = sorted((_roots(expr) & set(plain)) - set(ns))
            if missing:
                values[expr] = f"not in the namespace: {', '.join(missing)}"
                continue
            try:
                expected = _eval(expr, plain)
            except Exception as exc:
                out[case["name"]] = {"plain_error": f"{expr}: {_line(exc)}"}
                break
            try:
                # differ() is compare.py's, exec'd into this module first
                values[expr] = globals()["differ"](_eval(expr, ns), expected, expr)
            except Exception as exc:
                values[expr] = f"comparing raised {_line(exc)}"
        else:
            after = _fingerprints(ns, names)
            touched = sorted(n for n in before if before[n] != after.get(n) and n not in unstable)
            out[case["name"]] = {"values": values, "touched": touched, "unstable": unstable}
    return out


def probes(ns: dict[str, Any], cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Per case: repr of the `result` its probe code computes from a copy of ns."""
    out: dict[str, Any] = {}
    for case in cases:
        scope = dict(ns)
        try:
            exec(_compile(case["probe"] or "result = None", "<probe>", "exec"), scope)
            out[case["name"]] = {"probe": repr(scope["result"])}
        except Exception as exc:
            out[case["name"]] = {"probe": "error:" + _line(exc)}
    return out
