"""Which variables of this kernel share objects, so a checkpoint saves them together.

A step's values that share objects are saved as one group (values/groups.py): what they
share comes back shared. Variables saved by other steps can share objects with them too:
a figure and the axes a later step changed, a holder and the frame a later step mutated,
a new list of an earlier step's objects. A checkpoint therefore also holds ("co-saves")
every variable that shares an object with what the step wrote, found two ways:

- the groups this kernel saved or loaded: a member changed in place (still the same
  object) takes its whole group along;
- what the written values reach: a group whose objects they reach is taken along.

What a value reaches is found by walking its references (gc.get_referents), at most
MAX_DEPTH deep and WALK_BUDGET objects per value, through containers and instances but
never into classes, modules or library functions. Sharing deeper in a large value, or
made by a plain cell, is not seen.
"""

from __future__ import annotations

import enum
import gc
import sys
import types
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..values.groups import array_root

# Objects walked per group: the walk is for finding sharing, not for copying values.
WALK_BUDGET = 2_000
# References followed from a variable: an optimizer holds its model's parameters four
# references down (param_groups, a group, its params list, a parameter).
MAX_DEPTH = 5
# References followed from a library module's globals to find its constants.
LIBRARY_DEPTH = 2

# Values whose identity nobody relies on (immutable), or that pickle by reference
# (they come back as the same object anyway): neither recorded nor walked into.
_NO_IDENTITY: frozenset[type] = frozenset(
    {
        str,
        bytes,
        int,
        float,
        complex,
        bool,
        type(None),
        range,
        types.ModuleType,
        types.BuiltinFunctionType,
        types.CodeType,
        types.MethodDescriptorType,
        types.WrapperDescriptorType,
        types.GetSetDescriptorType,
        types.MemberDescriptorType,
    }
)
# Walked into (what they hold may be shared) but not recorded: identity does not matter.
_TRANSPARENT: frozenset[type] = frozenset({tuple, frozenset})


@dataclass
class _Group:
    members: dict[str, int]
    """name -> id of the value saved or loaded under it."""
    reach: frozenset[int]


class SharingIndex:
    """The groups this kernel last saved or loaded, and what each one reaches."""

    def __init__(self) -> None:
        self._groups: list[_Group] = []
        self._library = _LibraryObjects()

    def record(self, members: dict[str, Any], reached: frozenset[int] | None = None) -> None:
        """`members` were saved (or loaded) together: they now form one group, and leave
        the groups they were in before. `reached`: what they reach, when known already."""
        if not members:
            return
        for group in self._groups:
            for name in members:
                group.members.pop(name, None)
        self._groups = [g for g in self._groups if g.members]
        if reached is None:
            reached = reach(members.values())
        self._groups.append(_Group({n: id(v) for n, v in members.items()}, reached))

    def learn(self, groups: Iterable[dict[str, Any]]) -> None:
        """Values loaded together (a resume, a cache hit): each group as it was saved."""
        for members in groups:
            self.record(members)

    def partners(
        self, names: Iterable[str], namespace: dict[str, Any]
    ) -> tuple[set[str], dict[str, frozenset[int]]]:
        """Variables to save with `names` (not included): members of the groups that
        `names` belong to (changed in place: still the object saved) or that their values
        reach, transitively. Also what each of `names` and of those partners reaches."""
        chosen = {n for n in names if n in namespace}
        found: set[str] = set()
        reaches: dict[str, frozenset[int]] = {}
        pending = sorted(chosen)
        while pending:
            batch, pending = pending, []
            for name in batch:
                reaches[name] = reach([namespace[name]])
            touched = frozenset().union(*(reaches[n] for n in batch))
            for group in self._groups:
                live = _live(group, namespace)
                if not live:
                    continue
                same = any(
                    group.members.get(n) == id(namespace[n]) and has_identity(namespace[n])
                    for n in batch
                )
                if same or self._shares(touched, group.reach, namespace):
                    for name in live:
                        if name not in chosen and name not in found:
                            found.add(name)
                            pending.append(name)
        return found, reaches

    def components(
        self, reaches: dict[str, frozenset[int]], namespace: dict[str, Any]
    ) -> list[list[str]]:
        """`reaches`' names split into the sets that share objects (each one group)."""
        parent = {name: name for name in reaches}

        def root(name: str) -> str:
            while parent[name] != name:
                parent[name] = parent[parent[name]]
                name = parent[name]
            return name

        owner: dict[int, str] = {}
        variables: set[int] | None = None
        library: set[int] | None = None
        for name in sorted(reaches):
            for key in reaches[name]:
                other = owner.setdefault(key, name)
                if other == name or root(other) == root(name):
                    continue
                if library is None:
                    library = self._library.ids()
                if key in library:
                    if variables is None:
                        variables = {id(v) for v in namespace.values()}
                    if key not in variables:
                        continue  # a library constant both hold: no sharing
                parent[root(name)] = root(other)
        out: dict[str, list[str]] = {}
        for name in sorted(reaches):
            out.setdefault(root(name), []).append(name)
        return list(out.values())

    def _shares(
        self, touched: frozenset[int], reached: frozenset[int], namespace: dict[str, Any]
    ) -> bool:
        common = touched & reached
        if not common:
            return False
        library = self._library.ids()
        if not common <= library:
            return True
        # A notebook variable is data, whatever library module also holds it.
        return any(id(v) in common for v in namespace.values())


# Modules that hold the notebook's own values: its namespace, and `builtins._` (the
# last result IPython displayed).
_NOT_LIBRARIES = frozenset({"__main__", "builtins"})


class _LibraryObjects:
    """Objects that libraries keep at module level (rcParams' lists, a class's constant
    marker paths): values reach them, but they are nobody's data, so holding one is no
    sharing. Found near module globals and class attributes, once per imported module,
    and only when two groups seem to share something."""

    def __init__(self) -> None:
        self._modules: set[str] = set()
        self._ids: set[int] = set()
        self._keep: list[Any] = []  # so that the ids stay these objects'

    def ids(self) -> set[int]:
        for name, module in list(sys.modules.items()):
            if name not in self._modules and name not in _NOT_LIBRARIES:
                self._modules.add(name)
                # Plain modules only: reading a lazy module's __dict__ would import it.
                if type(module) is types.ModuleType:
                    self._add(list(vars(module).values()))
        return self._ids

    def _add(self, level: list[Any]) -> None:
        for depth in range(LIBRARY_DEPTH + 1):
            deeper: list[Any] = []
            for obj in level:
                kind = type(obj)
                if kind in _NO_IDENTITY or kind is types.FunctionType or id(obj) in self._ids:
                    continue
                self._ids.add(id(obj))
                self._keep.append(obj)
                if depth < LIBRARY_DEPTH:
                    # A class's attributes (not its referents: its bases, its mro).
                    is_class = issubclass(kind, type)
                    deeper.extend(obj.__dict__.values() if is_class else gc.get_referents(obj))
            level = deeper


def _live(group: _Group, namespace: dict[str, Any]) -> list[str]:
    """Members still bound to the object saved or loaded under their name."""
    return [n for n, oid in group.members.items() if n in namespace and id(namespace[n]) == oid]


def reach(values: Iterable[Any], budget: int = WALK_BUDGET) -> frozenset[int]:
    """Ids of the objects with an identity that `values` hold (themselves included), up
    to `budget` objects walked and `MAX_DEPTH` references deep. An array counts for the
    memory it views too (its root)."""
    numpy = sys.modules.get("numpy")
    ndarray = None if numpy is None else numpy.ndarray
    found: set[int] = set()
    seen: set[int] = set()
    level: list[Any] = list(values)
    walked = depth = 0
    while level and walked < budget:
        deeper: list[Any] = []
        for obj in level:
            kind = type(obj)
            if kind in _NO_IDENTITY:
                continue
            key = id(obj)
            if key in seen:
                continue
            seen.add(key)
            if not _walks(kind) or (kind is types.FunctionType and not _notebook_function(obj)):
                continue
            walked += 1
            if walked > budget:
                break
            if kind in _TRANSPARENT:
                level.extend(gc.get_referents(obj))  # a tuple's items are as deep as it
                continue
            found.add(key)
            if ndarray is not None and isinstance(obj, ndarray):
                found.add(id(array_root(obj)))
                if obj.dtype.hasobject and depth < MAX_DEPTH:
                    deeper.extend(obj.ravel()[: budget - walked].tolist())  # not traversable
                continue
            if depth == MAX_DEPTH:
                continue
            if kind is types.FunctionType:
                # What it holds, not its globals (the whole notebook namespace).
                deeper.extend(c.cell_contents for c in obj.__closure__ or () if _filled(c))
                deeper.extend(obj.__defaults__ or ())
                deeper.extend((obj.__kwdefaults__ or {}).values())
                continue
            room = budget - walked
            # A list's referents are its items, last first: sliced, not a huge list copied.
            deeper.extend(obj[: -room - 1 : -1] if kind is list else gc.get_referents(obj)[:room])
        level, depth = deeper, depth + 1
    return frozenset(found)


def has_identity(value: Any) -> bool:
    """Whether sharing this object matters: not an immutable, a module, a class or a
    library function (those are the same objects after a restore anyway)."""
    kind = type(value)
    if kind in _NO_IDENTITY or kind in _TRANSPARENT:
        return False
    return _walks(kind) and (kind is not types.FunctionType or _notebook_function(value))


# Types (not instances) walked into, decided once per type.
_WALKABLE: dict[type, bool] = {}


def _walks(kind: type) -> bool:
    found = _WALKABLE.get(kind)
    if found is None:
        found = _WALKABLE[kind] = _walkable(kind)
    return found


def _walkable(kind: type) -> bool:
    """Classes and enum members are the same objects after a restore (by reference, or
    by cloudpickle's class tracking), as are numpy dtypes: never walked into. Nor are
    pandas dtypes, immutable values pandas caches (two frames' string column labels share
    one: no reason to save the frames together)."""
    if issubclass(kind, (type, enum.Enum)):
        return False
    base = sys.modules.get("pandas.core.dtypes.base")
    if base is not None and issubclass(kind, base.ExtensionDtype):
        return False
    return not getattr(kind, "__module__", "").startswith("numpy.dtypes")


def _notebook_function(fn: types.FunctionType) -> bool:
    """A library function pickles by reference: the same object after a restore."""
    return bool(fn.__globals__.get("__name__") == "__main__")


def _filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True
