"""AST analysis of a cell: the global names it reads (before assigning them) and binds.

Reads decide the cache key, so over-approximating costs only a spurious re-run, while
missing a read could serve a stale checkpoint: when unsure, count a name as read.
Magics (already turned into `get_ipython().run_*_magic(...)` calls) are seen through where
their effect is known (magic_effects); elsewhere the cell is opaque and always runs.
"""

from __future__ import annotations

import ast
import copy
import inspect
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from ..errors import InvalidInput
from .magic_effects import effect, shown

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_SCOPES = (*_FUNCTIONS, ast.ClassDef, *_COMPREHENSIONS)
if sys.version_info >= (3, 11):
    _TRY = (ast.Try, ast.TryStar)
else:
    _TRY = (ast.Try,)


@dataclass(frozen=True)
class CellAnalysis:
    reads: frozenset[str]
    """Global names whose value the cell may read before binding them itself."""
    writes: frozenset[str]
    """Global names the cell binds (assignment, import, def, class, for, with, del)."""
    last_expression: bool
    """The cell ends in an expression whose value is displayed."""
    is_async: bool = False
    """The cell awaits at top level: it runs as a coroutine on the kernel's loop."""
    opaque: tuple[str, ...] = ()
    """Why what the cell reads or writes cannot be known (it then always runs)."""
    magics: frozenset[tuple[str, str]] = frozenset()
    """(kind, name) of the magics seen through: the shell must provide IPython's own."""


@lru_cache(maxsize=512)
def analyze(code: str) -> CellAnalysis:
    return _analyze(code, "step body", top=True)


def _analyze(code: str, what: str, *, top: bool = False) -> CellAnalysis:
    """`top`: the step body itself, refused whole when it cannot compile (a magic's code
    fails when the magic runs, as in a plain cell)."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise InvalidInput(f"{what} has a syntax error: line {exc.lineno}: {exc.msg}") from None
    _refuse_top_level(tree)
    is_async = _awaits(code, what, top)
    last = bool(tree.body) and isinstance(tree.body[-1], ast.Expr)
    magics = _Magics()
    tree = magics.visit(tree)
    reads, _ = _block(tree.body, set())
    reads -= _deferred_self_reads(tree, reads)
    return CellAnalysis(
        frozenset(reads),
        frozenset(_bindings(tree.body)),
        last,
        is_async=is_async,
        opaque=tuple(dict.fromkeys(magics.opaque)),
        magics=frozenset(magics.seen),
    )


def _deferred_self_reads(tree: ast.Module, reads: set[str]) -> set[str]:
    """Names read only inside the bodies of functions the cell defines, which the cell
    itself binds: a recursive function, a method that names its own class. When those
    bodies run, the names hold the cell's own values, so they are not inputs (else the
    step would read its own definitions after a resume, and run again)."""
    immediate, _ = _block(_DeferredBodies().visit(copy.deepcopy(tree)).body, set())
    return (reads - immediate) & _bindings(tree.body)


class _DeferredBodies(ast.NodeTransformer):
    """Empty the bodies that do not run at definition time (functions, lambdas); class
    bodies, decorators and defaults do run, and stay."""

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.body = [ast.Pass()]
        return self._outer(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        node.body = [ast.Pass()]
        return self._outer(node)

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        node.body = ast.Constant(None)
        return self._outer(node)

    def _outer(self, node: ast.AST) -> ast.AST:
        for field in ("decorator_list", "args", "returns"):
            value = getattr(node, field, None)
            if isinstance(value, list):
                setattr(node, field, [self.visit(v) for v in value])
            elif isinstance(value, ast.AST):
                setattr(node, field, self.visit(value))
        return node


def _awaits(code: str, what: str, top: bool) -> bool:
    """Whether the code awaits at top level. A step body that parses but does not compile
    (`break` outside a loop, `await` in a plain function, `nonlocal` at top level) is
    refused here, before anything runs or is recorded; a magic's code fails when the
    magic runs, as in a plain cell."""
    try:
        compiled = compile(
            code, "<step>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
        )
    except SyntaxError as exc:
        if top:
            raise InvalidInput(f"{what} has a syntax error: line {exc.lineno}: {exc.msg}") from None
        return False
    return bool(compiled.co_flags & inspect.CO_COROUTINE)


def _refuse_top_level(tree: ast.Module) -> None:
    """`yield` and `return` outside any function (a class body is not one): the body runs
    as top-level code, where Python refuses both."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            raise InvalidInput(
                f"step body uses `yield` (line {node.lineno}): a step body cannot be a "
                "generator; collect the values in a list"
            )
        if isinstance(node, ast.Return):
            raise InvalidInput(
                f"`return` outside a function (line {node.lineno}): a step body runs as "
                "top-level code; end it with the value to show it, or raise to stop it"
            )
        if not isinstance(node, _FUNCTIONS):
            stack.extend(_children(node))


_SHELL_CALLS = ("run_line_magic", "run_cell_magic", "system", "getoutput")


class _Magics(ast.NodeTransformer):
    """Replace each magic call by an expression with the same reads and bindings, e.g.
    `run_line_magic('time', 'r = f(a)')` by `(f, a, (r := 0))`, noting opaque ones."""

    def __init__(self) -> None:
        self.opaque: list[str] = []
        self.seen: set[tuple[str, str]] = set()

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == "get_ipython":
            # Any other use of the shell (run_cell, user_ns, ...) may do anything.
            self.opaque.append("get_ipython() cannot be analysed")
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        method = _shell_method(node)
        if method is None:
            return self.generic_visit(node)
        args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
        if node.keywords or not args or not all(isinstance(a, str) for a in args):
            self.opaque.append("a magic called with computed arguments cannot be analysed")
            return _reading_writing(self, node.args, set(), set())
        texts = [str(a) for a in args]
        if method in ("system", "getoutput"):
            command = texts[0].split()[0] if texts[0].split() else ""
            self.opaque.append(f"!{command} cannot be analysed")
            return ast.Constant(None)
        kind = "line" if method == "run_line_magic" else "cell"
        if len(texts) != (2 if kind == "line" else 3):
            self.opaque.append(f"{shown(kind, texts[0])} cannot be analysed")
            return ast.Constant(None)
        found = effect(kind, texts[0], texts[1], texts[2] if kind == "cell" else None)
        if found.opaque is not None:
            self.opaque.append(found.opaque)
            return ast.Constant(None)
        self.seen.add((kind, texts[0]))
        reads: set[str] = set()
        writes = set(found.binds)
        for run in found.runs:
            inner = _analyze(run.code, shown(kind, texts[0]))
            reads |= inner.reads
            writes |= inner.writes if run.binds else set()
            self.opaque.extend(inner.opaque)
            self.seen |= inner.magics
        return _reading_writing(self, [], reads, writes)


def _reading_writing(
    visitor: ast.NodeTransformer, exprs: list[ast.expr], reads: set[str], writes: set[str]
) -> ast.expr:
    elts = [visitor.visit(e) for e in exprs]
    elts += [ast.Name(r, ast.Load()) for r in sorted(reads)]
    elts += [ast.NamedExpr(ast.Name(w, ast.Store()), ast.Constant(0)) for w in sorted(writes)]
    return ast.Tuple(elts, ast.Load())


def _shell_method(node: ast.Call) -> str | None:
    """`run_line_magic` for `get_ipython().run_line_magic(...)`, and so on; else None."""
    func = node.func
    if (
        isinstance(func, ast.Attribute)
        and func.attr in _SHELL_CALLS
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id == "get_ipython"
        and not func.value.args
    ):
        return func.attr
    return None


def _block(stmts: Iterable[ast.stmt], bound: set[str]) -> tuple[set[str], set[str]]:
    """Reads of statements run in order, and the names bound after them.

    A name bound by an earlier statement (or earlier in a compound statement: a loop
    target, a `with ... as`, an `except ... as`, a walrus in a test) is not a read.
    """
    reads: set[str] = set()
    bound = set(bound)
    for stmt in stmts:
        found, bound = _statement(stmt, bound)
        reads |= found
    return reads, bound


def _expr(nodes: Iterable[ast.AST | None], bound: set[str]) -> tuple[set[str], set[str]]:
    """Reads of expressions evaluated in order, and the bound names after them."""
    reads: set[str] = set()
    for node in nodes:
        if node is not None:
            reads |= _loads([node]) - bound
            bound = bound | _bindings([node])
    return reads, bound


def _statement(stmt: ast.stmt, bound: set[str]) -> tuple[set[str], set[str]]:
    if isinstance(stmt, (ast.If, ast.While)):
        reads, inner = _expr([stmt.test], bound)
        body, after_body = _block(stmt.body, inner)
        other, after_other = _block(stmt.orelse, inner)
        return reads | body | other, after_body | after_other
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        reads, inner = _expr([stmt.iter, stmt.target], bound)
        body, after_body = _block(stmt.body, inner)
        other, after_other = _block(stmt.orelse, inner)
        return reads | body | other, after_body | after_other
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        reads, inner = _expr(
            [n for i in stmt.items for n in (i.context_expr, i.optional_vars)], bound
        )
        body, after = _block(stmt.body, inner)
        return reads | body, after
    if isinstance(stmt, _TRY):
        reads, after = _block(stmt.body, bound)
        for handler in stmt.handlers:
            found, inner = _expr([handler.type], after)
            found2, inner = _block(
                handler.body, inner | ({handler.name} if handler.name else set())
            )
            reads |= found | found2
            after |= inner
        for block in (stmt.orelse, stmt.finalbody):
            found, after = _block(block, after)
            reads |= found
        return reads, after
    if isinstance(stmt, ast.Match):
        reads, inner = _expr([stmt.subject], bound)
        after = set(inner)
        for case in stmt.cases:
            found, case_bound = _expr([case.pattern, case.guard], inner)
            body, case_after = _block(case.body, case_bound)
            reads |= found | body
            after |= case_after
        return reads, after
    return _loads([stmt]) - bound, bound | _bindings([stmt])


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


def _nested_scopes(body: Iterable[ast.AST]) -> Iterable[ast.AST]:
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, _SCOPES):
            yield node
        else:
            stack.extend(_children(node))


def _scope_reads(node: ast.AST, *, with_outside: bool = True) -> set[str]:
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
        return (_loads(body) - local) | (_loads(outside) if with_outside else set())
    if isinstance(node, ast.ClassDef):
        outside = [*node.bases, *(k.value for k in node.keywords), *node.decorator_list]
        reads, _ = _block(node.body, set())
        # Methods, lambdas and comprehensions do not see class-level names: their global
        # reads count even when the class body binds the same name.
        for scope in _nested_scopes(node.body):
            reads |= _scope_reads(scope, with_outside=False)
        return reads | (_loads(outside) if with_outside else set())
    if isinstance(node, _COMPREHENSIONS):
        generators = node.generators
        targets = _bindings([g.target for g in generators])
        inner: list[ast.AST] = [*(g.iter for g in generators[1:])]
        inner += [cond for g in generators for cond in g.ifs]
        if isinstance(node, ast.DictComp):
            inner += [node.key, node.value]
        else:
            inner.append(node.elt)
        first = _loads([generators[0].iter]) if with_outside else set()
        return (_loads(inner) - targets) | first
    return set()
