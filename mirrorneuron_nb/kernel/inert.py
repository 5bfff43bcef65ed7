"""Bodies that run no code but their own bytecode: `x = 1`, `cols = ["a", "b"]`, `y = x`.

Such a body cannot change process-wide library state (libstate.py): nothing it does calls
into a library, a method, a property or an operator. The runner then skips the two
library-state readings around it (a fifth of a trivial step's cost). One more way code
runs is dropping the last reference to an object (its `__del__`, a weakref callback):
so the names it rebinds must hold plain scalars before it runs.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

SCALARS = frozenset({int, float, complex, bool, str, bytes, type(None)})
"""Values whose release runs no code and frees nothing else (immutable, exact types)."""


def runs_no_code(code: str, ns: Mapping[str, Any]) -> bool:
    """Whether running `code` (IPython's transforms applied) in `ns`, now, can run no code
    but its own: it only binds names to constants, names and displays of them, and every
    name it rebinds holds a scalar."""
    names = inert_bindings(code)
    if names is None:
        return False
    return all(type(ns[n]) in SCALARS for n in names if n in ns)


@lru_cache(maxsize=512)
def inert_bindings(code: str) -> frozenset[str] | None:
    """The names an inert cell binds; None when the cell may run other code."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    names: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.Pass):
            continue
        if not isinstance(stmt, ast.Assign) or not _inert(stmt.value):
            return None  # an expression statement is displayed: formatting runs code
        for target in stmt.targets:
            if not isinstance(target, ast.Name):
                return None  # unpacking iterates, attributes and items call methods
            names.add(target.id)
    return frozenset(names)


def _inert(node: ast.expr) -> bool:
    if isinstance(node, (ast.Constant, ast.Name)):
        return True  # a constant; a name is looked up in plain dicts (str keys)
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(_inert(e) for e in node.elts)  # a Starred element iterates: not inert
    if isinstance(node, ast.Dict):
        # Constant keys hash without user code (None marks a `**` spread: not inert).
        return all(isinstance(k, ast.Constant) for k in node.keys) and all(
            _inert(v) for v in node.values
        )
    if isinstance(node, ast.Set):
        return all(isinstance(e, ast.Constant) for e in node.elts)
    # `-1` is an operator applied to a constant number: the number's own.
    return (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, (ast.USub, ast.UAdd))
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) in (int, float, complex)
    )
