"""What code defined in a notebook is, for a fingerprint (canonical.py).

A function is its bytecode, names, constants, defaults and what its closure holds; a class
is its metaclass, name, bases and attributes, leaving out what Python, copyreg, abc,
pydantic or cloudpickle add or cache on their own, so a class restored from a checkpoint
in another process fingerprints like the one that was saved.
"""

from __future__ import annotations

import sys
import types
from typing import Any

# Class attributes that are caches or derived from the others, or differ between a class
# and the same class restored in another process.
SKIPPED_CLASS_ATTRS = frozenset(
    {
        "__dict__",
        "__weakref__",
        "__slotnames__",  # added by copyreg the first time an instance is pickled
        "__module__",
        "__qualname__",
        "_abc_impl",  # ABC caches, filled by isinstance()
        "__pydantic_validator__",  # pydantic: built from the fields
        "__pydantic_serializer__",
        "__pydantic_core_schema__",  # holds a per-process id
        "__pydantic_setattr_handlers__",  # filled lazily on assignment
        "__pydantic_parent_namespace__",
        "__signature__",
        # enum: value -> member, plus the pseudo-members a Flag caches when a read makes
        # one (`Perm.R | Perm.W`); derived from _member_map_, which is kept
        "_value2member_map_",
    }
)
_DESCRIPTORS = (types.MemberDescriptorType, types.GetSetDescriptorType)


def importable(obj: Any) -> bool:
    """True when pickle can save `obj` by reference: `module.qualname` finds it again."""
    module_name = getattr(obj, "__module__", None)
    if not module_name or module_name == "__main__":
        return False
    found: Any = sys.modules.get(module_name)
    for part in obj.__qualname__.split("."):
        found = getattr(found, part, None)
    return found is obj


def code_parts(code: types.CodeType, parts: list[bytes]) -> None:
    """What a code object computes: bytecode, names and constants, the same in every
    process (a frozenset constant's repr follows per-process string hashes: sorted)."""
    parts.append(code.co_code)
    parts.append(repr(code.co_names).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            code_parts(const, parts)
        else:
            parts.append(_const_repr(const).encode())


def _const_repr(const: Any) -> str:
    if isinstance(const, frozenset):
        return "frozenset(" + repr(sorted(_const_repr(c) for c in const)) + ")"
    if isinstance(const, tuple):
        return "(" + ",".join(_const_repr(c) for c in const) + ")"
    return repr(const)


def function_content(fn: types.FunctionType) -> Any:
    """A function that cannot be imported: its code, defaults, closure and attributes."""
    parts: list[bytes] = []
    code_parts(fn.__code__, parts)
    cells = []
    for cell in fn.__closure__ or ():
        try:
            cells.append(cell.cell_contents)
        except ValueError:  # not assigned yet
            cells.append("<empty cell>")
    # Globals are not content: a notebook function reads the live namespace (plan.py
    # fingerprints the globals a step's functions use as inputs of their own).
    return (
        fn.__name__,
        b"".join(parts),
        fn.__defaults__,
        fn.__kwdefaults__,
        cells,
        fn.__dict__,
    )


def class_content(cls: type) -> Any:
    """A class that cannot be imported: its metaclass, name, bases and attributes (those
    identical to a base's left out, as cloudpickle saves a class)."""
    inherited: dict[str, Any] = {}
    for base in reversed(cls.__bases__):
        inherited.update(vars(base))
    attrs = []
    for name, value in sorted(vars(cls).items()):
        if name in SKIPPED_CLASS_ATTRS or isinstance(value, _DESCRIPTORS):
            continue  # slot and __dict__ descriptors are made from __slots__
        if name in inherited and inherited[name] is value:
            continue
        attrs.append((name, _definition(value, set())))
    return (type(cls), cls.__name__, cls.__bases__, attrs)


_ATOMS = (int, float, complex, str, bytes, bool, type(None))


def _definition(value: Any, seen: set[int]) -> Any:
    """A class attribute as a definition: a method's code, defaults, and the constants and
    functions its closure holds. Other objects a method captures (a list it appends to,
    a client) are state, counted by type: recording calls does not change the class."""
    if isinstance(value, (staticmethod, classmethod)):
        return (type(value).__name__, _definition(value.__func__, seen))
    if isinstance(value, property):
        accessors = (value.fget, value.fset, value.fdel)
        return ("property", *(_definition(f, seen) for f in accessors), value.__doc__)
    if type(value) is not types.FunctionType or importable(value):
        return value
    if id(value) in seen:
        return ("recursive", value.__qualname__)
    seen.add(id(value))
    parts: list[bytes] = []
    code_parts(value.__code__, parts)
    cells = []
    for cell in value.__closure__ or ():
        try:
            cells.append(_captured(cell.cell_contents, seen))
        except ValueError:  # not assigned yet
            cells.append("<empty cell>")
    attrs = {k: _captured(v, seen) for k, v in value.__dict__.items()}  # __wrapped__
    defaults = (value.__defaults__, value.__kwdefaults__)
    return ("method", value.__qualname__, b"".join(parts), defaults, cells, attrs)


def _captured(held: Any, seen: set[int]) -> Any:
    if isinstance(held, (*_ATOMS, type)):  # a class: its own digest (__class__: a cycle)
        return held
    if type(held) is tuple and all(isinstance(x, _ATOMS) for x in held):
        return held
    if isinstance(held, (types.FunctionType, staticmethod, classmethod, property)):
        return _definition(held, seen)
    return ("state", type(held).__module__, type(held).__qualname__)
