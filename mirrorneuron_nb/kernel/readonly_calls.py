"""The namespace half of readonly.py: whether what a cell calls, on the values it would
run on, is known not to write (the allowlist in pure_ops.py)."""

from __future__ import annotations

import builtins
import sys
import types
from dataclasses import dataclass
from typing import Any

from . import pure_ops as ops


@dataclass(frozen=True)
class Link:
    """One attribute of a chain from a global name: `.name`, called or only read."""

    name: str
    called: bool
    positional: int = 0


@dataclass(frozen=True)
class Chain:
    """`root.a.b(...)[k].c(...)`: the links from the root (subscripts are reads)."""

    root: str
    links: tuple[Link, ...]
    module: str | None = None
    """The loaded module the cell binds `root` to by `import` (`import time` then
    `time.sleep(1)`): the chain's calls are that module's functions."""


def loaded(module: str, name: str | None) -> bool:
    found = sys.modules.get(module)
    if found is None:
        return False
    return name is None or f"{module}.{name}" in sys.modules or name in vars(found)


def calls_code(value: Any) -> bool:
    """A function or callable object a method could call (a type or builtin is data)."""
    if value is None or isinstance(value, (type, types.BuiltinFunctionType)):
        return False
    return callable(value)


def chain_mutation(chain: Chain, ns: dict[str, Any]) -> str | None:
    if chain.module is not None:
        # Bound by the cell's own import (loaded already: CellEffects.mutation checked).
        # Used before that import, the name is what the namespace holds: the same module.
        module = sys.modules.get(chain.module)
        if module is None or ns.get(chain.root, module) is not module:
            return f"a method of {chain.root}, which the cell binds"
        return _function_mutation(module, chain)
    if chain.root in ns:
        value = ns[chain.root]
    elif hasattr(builtins, chain.root):
        value = getattr(builtins, chain.root)  # `list.append(x, 1)`: a builtin type's method
    else:
        return None  # the call fails with a NameError: nothing changes
    called = [lk for lk in chain.links if lk.called]
    if isinstance(value, types.ModuleType):
        return _function_mutation(value, chain)
    family, numpy = _family(value)
    if family is None:
        return f"{chain.root} ({type(value).__name__}) has no method known not to write"
    for link in called:
        if family is not _ANY and link.name not in family:
            return f"{chain.root}...{link.name}() may write"
        if numpy and link.positional > ops.NUMPY_MORE_POSITIONAL.get(
            link.name, ops.NUMPY_POSITIONAL
        ):
            return f"{chain.root}...{link.name}() may be given out="
    return None


_ANY: frozenset[str] = frozenset()


def _family(value: Any) -> tuple[frozenset[str] | None, bool]:
    """The read-only methods of the value's exact type, and whether they are numpy's."""
    kind = type(value)
    numpy = sys.modules.get("numpy")
    if numpy is not None and kind is numpy.ndarray:
        return ops.NDARRAY_METHODS, True
    pandas = sys.modules.get("pandas")
    if pandas is not None and kind in (pandas.DataFrame, pandas.Series):
        return ops.PANDAS_METHODS, False
    if kind in (str, bytes, int, float, complex, bool):
        return _ANY, False  # immutable, and so is what their methods return
    if kind in (tuple, list):
        return ops.LIST_METHODS, False
    if kind is dict:
        return ops.DICT_METHODS, False
    if kind in (set, frozenset):
        return ops.SET_METHODS, False
    return None, False


def _function_mutation(module: types.ModuleType, chain: Chain) -> str | None:
    """`np.mean(a)`, `np.linalg.norm(a).sum()`: a listed function, then ndarray methods."""
    path: list[str] = [module.__name__]
    links = list(chain.links)
    while links and not links[0].called:
        path.append(links.pop(0).name)
    if not links:
        return None  # only attribute reads
    first = links.pop(0)
    name = ".".join([*path, first.name])
    if name not in ops.PURE_FUNCTIONS:
        return f"{name}() may write"
    limit = ops.NUMPY_MORE_POSITIONAL.get(name, ops.NUMPY_POSITIONAL)
    if path[0] == "numpy" and first.positional > limit:
        return f"{name}() may be given out="
    rest = [lk for lk in links if lk.called]
    if rest and (path[0] != "numpy" or any(lk.name not in ops.NDARRAY_METHODS for lk in rest)):
        return f"{name}(){rest[0].name}() may write"
    return None
