"""Whether a cell can change a value in place: what lets a fingerprint outlive a cell.

`effects(code)` reads the cell's AST once (cached) and returns what it binds and, when
every operation in it is known not to mutate (pure_ops.py), the facts that must hold in
the namespace for that to be true (`CellEffects.mutation(ns)`): the builtins it calls
are not shadowed, the objects whose methods it calls have the exact types whose methods
are listed, the modules it imports are loaded already (an import runs code). Anything
else (a call of unknown code, an item or attribute assignment, augmented assignment,
`with`, a class statement, a magic, exec/eval) may change any value reachable from
anywhere, aliases included: the answer is then "anything may have changed".
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..errors import MirrorNeuronError
from . import pure_ops as ops
from .analysis import analyze
from .readonly_calls import Chain, Link, calls_code, chain_mutation, loaded


@dataclass(frozen=True)
class CellEffects:
    binds: frozenset[str]
    """Global names the cell binds (rebinds or deletes)."""
    impure: str | None
    """Why the cell may change any value in place; None when it reads only."""
    builtins: frozenset[str] = frozenset()
    chains: tuple[Chain, ...] = ()
    imports: tuple[tuple[str, str | None], ...] = ()
    """(module, name imported from it or None): must not run any module's code."""
    passed: frozenset[str] = frozenset()
    """Names passed to methods and functions: must not be functions they could call."""

    def mutation(self, ns: dict[str, Any]) -> str | None:
        """Why running the cell on `ns` may change a value in place, or None."""
        if self.impure is not None:
            return self.impure
        shadowed = sorted(n for n in self.builtins if n in ns)
        if shadowed:
            return f"{shadowed[0]} is not the builtin"
        for module, name in self.imports:
            if not loaded(module, name):
                return f"import {module} runs its code"
        for name in self.passed:
            if calls_code(ns.get(name)):
                return f"{name} is code a call may run"
        for chain in self.chains:
            why = chain_mutation(chain, ns)
            if why is not None:
                return why
        return None


EVERYTHING = CellEffects(frozenset(), "the cell cannot be analysed")


@lru_cache(maxsize=512)
def effects(code: str) -> CellEffects:
    """What the cell (after IPython's transforms) may change; see the module docstring."""
    try:
        binds = analyze(code).writes
        tree = ast.parse(code)
    except (MirrorNeuronError, SyntaxError, ValueError):
        return EVERYTHING
    walker = _Walker(binds, _imported_modules(tree))
    try:
        for stmt in tree.body:
            walker.statement(stmt)
    except _Impure as exc:
        return CellEffects(binds, str(exc))
    return CellEffects(
        binds,
        None,
        frozenset(walker.builtins),
        tuple(walker.chains),
        tuple(walker.imports),
        frozenset(walker.passed),
    )


class _Impure(Exception):
    pass


_SIMPLE = (ast.Pass, ast.Break, ast.Continue, ast.Global, ast.Nonlocal)
_EXPRESSIONS = (
    ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.IfExp, ast.Dict, ast.Set, ast.Compare,
    ast.JoinedStr, ast.FormattedValue, ast.Constant, ast.Attribute, ast.Subscript,
    ast.Starred, ast.Name, ast.List, ast.Tuple, ast.Slice, ast.NamedExpr,
)  # fmt: skip
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


class _Walker:
    def __init__(self, binds: frozenset[str], modules: dict[str, str]) -> None:
        self.binds = binds
        self.modules = modules
        self.locals: list[set[str]] = []
        self.builtins: set[str] = set()
        self.chains: list[Chain] = []
        self.imports: list[tuple[str, str | None]] = []
        self.passed: set[str] = set()

    # -- statements ------------------------------------------------------------------------

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, _SIMPLE):
            return
        if isinstance(node, (ast.Expr, ast.Assert, ast.Raise)):
            for child in ast.iter_child_nodes(node):
                self.expr(child)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                self.target(target)
            if isinstance(node, ast.AnnAssign):
                self.expr(node.annotation)  # evaluated at top level
            if node.value is not None:
                self.expr(node.value)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                self.target(target)
        elif isinstance(node, (ast.If, ast.While)):
            self.expr(node.test)
            self.block([*node.body, *node.orelse])
        elif isinstance(node, ast.For):
            self.target(node.target)
            self.expr(node.iter)
            self.block([*node.body, *node.orelse])
        elif isinstance(node, ast.Try):
            for handler in node.handlers:
                if handler.type is not None:
                    self.expr(handler.type)
            self.block([*node.body, *[s for h in node.handlers for s in h.body]])
            self.block([*node.orelse, *node.finalbody])
        elif isinstance(node, ast.FunctionDef):
            # Defining runs only the decorators and defaults; calling it is unknown code.
            if node.decorator_list:
                raise _Impure("a decorator runs code")
            args = node.args
            every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
            annotations = [a.annotation for a in every if a is not None]
            for part in [*args.defaults, *args.kw_defaults, *annotations, node.returns]:
                self.expr(part)
        elif isinstance(node, ast.Import):
            self.imports.extend((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level or node.module is None or any(a.name == "*" for a in node.names):
                raise _Impure("a relative or star import")
            self.imports.extend((node.module, alias.name) for alias in node.names)
        else:  # with, class, async, match, augmented assignment, return...
            raise _Impure(f"{type(node).__name__} may change values")

    def block(self, stmts: list[ast.stmt]) -> None:
        for stmt in stmts:
            self.statement(stmt)

    def target(self, node: ast.expr) -> None:
        """A name is rebound (seen by identity); anything else is written into."""
        if isinstance(node, ast.Name):
            return
        if isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                self.target(elt)
        elif isinstance(node, ast.Starred):
            self.target(node.value)
        else:
            raise _Impure("an item or attribute is assigned")

    # -- expressions -----------------------------------------------------------------------

    def expr(self, node: ast.AST | None) -> None:
        if node is None or isinstance(node, (ast.expr_context, ast.operator, ast.cmpop)):
            return
        if isinstance(node, (ast.boolop, ast.unaryop, ast.keyword)):
            for child in ast.iter_child_nodes(node):
                self.expr(child)
            return
        if isinstance(node, ast.Call):
            self.call(node)
        elif isinstance(node, _COMPREHENSIONS):
            self.comprehension(node)
        elif isinstance(node, ast.Lambda):
            raise _Impure("a lambda outside key= may be called")
        elif isinstance(node, _EXPRESSIONS):
            for child in ast.iter_child_nodes(node):
                self.expr(child)
        else:  # await, yield
            raise _Impure(f"{type(node).__name__} may change values")

    def comprehension(self, node: ast.AST) -> None:
        generators: list[ast.comprehension] = node.generators  # type: ignore[attr-defined]
        self.expr(generators[0].iter)
        scope: set[str] = set()
        self.locals.append(scope)
        try:
            for i, gen in enumerate(generators):
                if gen.is_async:
                    raise _Impure("an async comprehension")
                scope |= {n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
                if i:
                    self.expr(gen.iter)
                for cond in gen.ifs:
                    self.expr(cond)
            if isinstance(node, ast.DictComp):
                self.expr(node.key)
                self.expr(node.value)
            else:
                self.expr(node.elt)  # type: ignore[attr-defined]
        finally:
            self.locals.pop()

    def is_local(self, name: str) -> bool:
        return any(name in scope for scope in self.locals)

    def call(self, node: ast.Call) -> None:
        func = node.func
        _no_writing_keywords(node)
        if isinstance(func, ast.Name):
            self.builtin_call(func.id, node)
            return
        links: list[Link] = []
        current: ast.expr = node
        while True:
            if isinstance(current, ast.Call):
                if not isinstance(current.func, ast.Attribute):
                    raise _Impure("a call of a computed function")
                _no_writing_keywords(current)
                self.arguments(current, passed=True)
                links.append(Link(current.func.attr, True, len(current.args)))
                current = current.func.value
            elif isinstance(current, ast.Attribute):
                links.append(Link(current.attr, False))
                current = current.value
            elif isinstance(current, ast.Subscript):
                self.expr(current.slice)
                current = current.value
            else:
                break
        if isinstance(current, ast.Constant) and isinstance(current.value, (str, bytes)):
            return  # a method of a str or bytes literal
        if not isinstance(current, ast.Name) or self.is_local(current.id):
            raise _Impure("a method of a computed value")
        module = self.modules.get(current.id)
        if current.id in self.binds and module is None:
            raise _Impure(f"a method of {current.id}, which the cell binds")
        self.chains.append(Chain(current.id, tuple(reversed(links)), module))

    def builtin_call(self, name: str, node: ast.Call) -> None:
        if self.is_local(name) or name in self.binds or name not in ops.PURE_BUILTINS:
            raise _Impure(f"{name}() may run any code")
        self.builtins.add(name)
        for keyword in node.keywords:
            if keyword.arg == "key" and name in ops.KEY_CALLERS:
                self.key(keyword.value)
            else:
                self.expr(keyword.value)
        for arg in node.args:
            self.expr(arg)

    def key(self, node: ast.expr) -> None:
        if isinstance(node, ast.Name) and node.id in ops.PURE_BUILTINS:
            self.builtins.add(node.id)
        elif isinstance(node, ast.Lambda):
            args = node.args
            if args.defaults or args.kw_defaults:
                raise _Impure("a key= lambda with defaults")
            params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
            self.locals.append(params)
            try:
                self.expr(node.body)
            finally:
                self.locals.pop()
        else:
            raise _Impure("key= may run any code")

    def arguments(self, node: ast.Call, *, passed: bool) -> None:
        for value in [*node.args, *(k.value for k in node.keywords)]:
            if passed and isinstance(value, ast.Name) and not self.is_local(value.id):
                self.passed.add(value.id)
            self.expr(value)


def _imported_modules(tree: ast.Module) -> dict[str, str]:
    """Names the cell binds only by `import X` / `import X as Y`, all to one module: the
    module each is bound to. A name bound any other way, or to two modules, is left out."""
    modules: dict[str, str] = {}
    other: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.asname or alias.name.partition(".")[0]
                path = alias.name if alias.asname else name
                if modules.setdefault(name, path) != path:
                    other.add(name)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            other.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            other.add(node.name)
        elif isinstance(node, ast.ImportFrom):
            other.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            other.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            other.add(node.rest)
    return {name: path for name, path in modules.items() if name not in other}


def _no_writing_keywords(node: ast.Call) -> None:
    if any(k.arg is None or k.arg in ops.WRITING_KEYWORDS for k in node.keywords):
        raise _Impure("a call with **kwargs, inplace= or out=")
