"""`--outputs A,B`: names the step must bind, checked before and after its body.

Before: a name the body cannot bind (it binds it nowhere, it is not defined, and nothing
the body calls could bind it) is refused, and nothing runs. After: a name the body could
bind but did not (a branch not taken) ends the attempt as `invalid`; the step is not
failed and nothing is checkpointed (store: `abandon_attempt`).
"""

from __future__ import annotations

import ast
import types
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import InvalidInput
from .analysis import CellAnalysis

# Names that let code bind globals no reading of the source can see.
_DYNAMIC = frozenset({"exec", "eval", "globals", "vars", "locals", "setattr", "__import__"})


def check_bindable(
    outputs: tuple[str, ...] | None,
    code: str,
    analysis: CellAnalysis,
    opaque: bool,
    ns: Mapping[str, Any],
) -> None:
    """Refuse --outputs names the body cannot bind. Only when that is certain: an opaque
    or dynamic body, or a function that declares the name global, may bind anything."""
    if not outputs or opaque:
        return
    unknown = [n for n in outputs if n not in ns and n not in analysis.writes]
    if not unknown:
        return
    tree = ast.parse(code)  # parsed by the analysis already: it cannot fail here
    if _dynamic(tree):
        return
    maybe = _declared_global(tree) | _callee_globals(analysis.reads, ns)
    never = [n for n in unknown if n not in maybe]
    if never:
        raise InvalidInput(
            f"--outputs names {', '.join(never)}, which the step body never assigns "
            "(and no such variable exists): assign it in the body, or fix the name"
        )


def unbound(outputs: tuple[str, ...] | None, ns: Mapping[str, Any]) -> str | None:
    """The message for --outputs names the body left undefined, or None."""
    missing = [n for n in outputs or () if n not in ns]
    if not missing:
        return None
    return (
        f"--outputs names {', '.join(missing)}, which the step body did not assign this "
        "time: nothing was checkpointed and the step is not marked failed; assign it on "
        "every path, or list only what the body always assigns"
    )


def _dynamic(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            return True
        if isinstance(node, ast.Name) and node.id in _DYNAMIC:
            return True
    return False


def _declared_global(tree: ast.Module) -> set[str]:
    return {n for node in ast.walk(tree) if isinstance(node, ast.Global) for n in node.names}


def _callee_globals(start: Iterable[str], ns: Mapping[str, Any]) -> set[str]:
    """Global names that the notebook's functions, classes and objects the body reads may
    touch, and those they read in turn (a `global NAME` inside any binds it):
    over-approximated by every name their code uses."""
    names: set[str] = set()
    seen: set[int] = set()
    pending = [ns[n] for n in start if n in ns]
    while pending:
        value = pending.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        value = getattr(value, "__func__", value)  # bound, static and class methods
        if isinstance(value, property):
            pending.extend(f for f in (value.fget, value.fset, value.fdel) if f is not None)
            continue
        wrapped = getattr(value, "__wrapped__", None)
        if wrapped is not None:
            pending.append(wrapped)  # @mn.durable, functools.wraps
        if isinstance(value, types.FunctionType):
            found = _code_names(value.__code__)
            pending.extend(ns[n] for n in found - names if n in ns)
            names |= found
            continue
        classes = value.__mro__ if isinstance(value, type) else type(value).__mro__
        for cls in classes:
            if cls.__module__ == "__main__":
                pending.extend(vars(cls).values())
    return names


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names
