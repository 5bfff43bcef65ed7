"""AST analysis of a cell: the global names it reads (before assigning them) and binds.

Reads decide the cache key, so over-approximating costs only a spurious re-run, while
missing a read could serve a stale checkpoint: when unsure, count a name as read.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from .errors import InvalidInput

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_SCOPES = (*_FUNCTIONS, ast.ClassDef, *_COMPREHENSIONS)


@dataclass(frozen=True)
class CellAnalysis:
    reads: frozenset[str]
    """Global names whose value the cell may read before binding them itself."""
    writes: frozenset[str]
    """Global names the cell binds (assignment, import, def, class, for, with, del)."""
    last_expression: bool
    """The cell ends in an expression whose value is displayed."""


@lru_cache(maxsize=512)
def analyze(code: str) -> CellAnalysis:
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise InvalidInput(f"step body has a syntax error: line {exc.lineno}: {exc.msg}") from None
    reads: set[str] = set()
    bound: set[str] = set()
    for stmt in tree.body:
        reads |= _loads([stmt]) - bound
        bound |= _bindings([stmt])
    last = bool(tree.body) and isinstance(tree.body[-1], ast.Expr)
    return CellAnalysis(frozenset(reads), frozenset(bound), last)


def _children(node: ast.AST) -> Iterable[ast.AST]:
    return ast.iter_child_nodes(node)


def _loads(nodes: Iterable[ast.AST]) -> set[str]:
    """Names loaded in the current scope, plus the global reads of nested scopes."""
    out: set[str] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            # A Store/Del on a name is a binding; AugAssign's target also reads it.
            if isinstance(node.ctx, ast.Load):
                out.add(node.id)
            continue
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            out.add(node.target.id)
        if isinstance(node, _SCOPES):
            out |= _scope_reads(node)
            continue
        stack.extend(_children(node))
    return out


def _bindings(nodes: Iterable[ast.AST]) -> set[str]:
    """Names bound in the current scope (not descending into nested scopes)."""
    out: set[str] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            out.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
            continue
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    out.add(alias.asname or alias.name.split(".")[0])
        elif (isinstance(node, ast.ExceptHandler) and node.name) or (
            isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name
        ):
            out.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            out.add(node.rest)
        if isinstance(node, (ast.Lambda, *_COMPREHENSIONS)):
            continue
        stack.extend(_children(node))
    return out


def _declared_global(body: Iterable[ast.AST]) -> set[str]:
    out: set[str] = set()
    for node in body:
        for sub in ast.walk(node):
            if isinstance(sub, (ast.Global, ast.Nonlocal)):
                out.update(sub.names)
    return out


def _scope_reads(node: ast.AST) -> set[str]:
    """Global names a nested scope reads. Parts evaluated outside it count as plain loads."""
    if isinstance(node, _FUNCTIONS):
        args = node.args
        params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        outside: list[ast.AST] = [*args.defaults, *(d for d in args.kw_defaults if d)]
        if isinstance(node, ast.Lambda):
            body: list[ast.AST] = [node.body]
        else:
            body = list(node.body)
            outside += node.decorator_list
            annotations = [
                a.annotation
                for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]
                if a.annotation
            ]
            outside += annotations
            if node.returns is not None:
                outside.append(node.returns)
        local = (params | _bindings(body)) - _declared_global(body)
        return (_loads(body) - local) | _loads(outside)
    if isinstance(node, ast.ClassDef):
        outside = [*node.bases, *(k.value for k in node.keywords), *node.decorator_list]
        return _loads(node.body) - _bindings(node.body) | _loads(outside)
    if isinstance(node, _COMPREHENSIONS):
        generators = node.generators
        targets = _bindings([g.target for g in generators])
        inner: list[ast.AST] = [*(g.iter for g in generators[1:])]
        inner += [cond for g in generators for cond in g.ifs]
        if isinstance(node, ast.DictComp):
            inner += [node.key, node.value]
        else:
            inner.append(node.elt)
        return (_loads(inner) - targets) | _loads([generators[0].iter])
    return set()
