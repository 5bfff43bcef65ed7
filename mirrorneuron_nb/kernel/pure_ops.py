"""The allowlist of operations known not to change their operands (readonly.py uses it).

A cell made only of these cannot change a value in place, so a fingerprint taken before
it still holds after it. Everything not listed counts as a possible mutation: the cost of
a missing entry is one re-fingerprint, the cost of a wrong entry a stale checkpoint. So
keep it small, and add an entry only with the reason it cannot mutate.

Beyond these calls, readonly.py accepts what Python does through dunder methods that read
(attribute and subscript reads, arithmetic, comparisons, iteration, formatting): a class
whose `__getitem__` or `__add__` mutates its operands is out of scope.
"""

from __future__ import annotations

from typing import Final

PURE_BUILTINS: Final[frozenset[str]] = frozenset(
    {
        # Build a new value from their arguments' contents, or only inspect them.
        *("len", "abs", "round", "sum", "min", "max", "sorted", "any", "all", "divmod", "pow"),
        *("isinstance", "issubclass", "type", "id", "hash", "callable", "hasattr", "getattr"),
        *("float", "int", "str", "bool", "complex", "bytes", "repr", "format", "ascii"),
        *("chr", "ord", "hex", "oct", "bin"),
        # Copy their iterable into a new container (a generator consumed is identity-compared).
        *("tuple", "list", "dict", "set", "frozenset"),
        # Lazy views over their argument: they read it only when iterated.
        *("enumerate", "zip", "range", "reversed"),
        # Writes text to the output stream, not to a value.
        "print",
        # Deliberately absent: next/iter (advance an iterator), map/filter (call functions),
        # exec/eval/globals/locals/vars/setattr/delattr/open/input/__import__/compile.
    }
)

# Builtins that call a `key=` argument: only a lambda (analysed with the cell) or a pure
# builtin may be given, else the call is unknown code.
KEY_CALLERS: Final[frozenset[str]] = frozenset({"sorted", "min", "max"})

# Keyword arguments that make an otherwise pure method or function write into a value.
WRITING_KEYWORDS: Final[frozenset[str]] = frozenset({"inplace", "out"})

# numpy takes `out` positionally too (`a.sum(axis, dtype, out)`, `np.abs(x, out)`): an
# ndarray method or numpy function gets at most this many positional arguments, except
# those listed (they have no `out` parameter, or it comes later).
NUMPY_POSITIONAL: Final[int] = 1
NUMPY_MORE_POSITIONAL: Final[dict[str, int]] = {
    "reshape": 64,
    "transpose": 64,
    "numpy.dot": 2,
    "numpy.allclose": 2,
    "numpy.array_equal": 2,
}

# Methods that only read their object and return a new object (or a view, whose later
# writes are mutations of their own), by the family of the value's exact type. A chain
# `df.groupby("k")["b"].sum()` is allowed when every method in it is in the root's family:
# pandas objects (DataFrame, Series, their groupbys) share these read-only names.
NDARRAY_METHODS: Final[frozenset[str]] = frozenset(
    {
        *("sum", "mean", "std", "var", "min", "max", "argmin", "argmax", "prod", "ptp"),
        *("any", "all", "cumsum", "cumprod", "copy", "astype", "reshape", "ravel", "flatten"),
        *("tolist", "item", "dot", "round", "nonzero", "transpose", "squeeze", "take"),
        *("repeat", "tobytes", "view", "searchsorted", "trace", "diagonal", "conj"),
    }
)
PANDAS_METHODS: Final[frozenset[str]] = frozenset(
    {
        *("sum", "mean", "median", "std", "var", "min", "max", "count", "nunique", "unique"),
        *("describe", "head", "tail", "copy", "groupby", "to_numpy", "isna", "notna"),
        *("value_counts", "corr", "cov", "cumsum", "abs", "round", "astype", "idxmin"),
        *("idxmax", "quantile", "sort_values", "sort_index", "reset_index", "set_index"),
        *("dropna", "fillna", "get", "items", "keys", "size", "first", "last", "prod"),
        *("equals", "duplicated", "drop_duplicates", "select_dtypes", "memory_usage", "rank"),
        # With inplace= these write: WRITING_KEYWORDS refuses any call that passes it.
    }
)
LIST_METHODS: Final[frozenset[str]] = frozenset({"copy", "count", "index"})
DICT_METHODS: Final[frozenset[str]] = frozenset({"copy", "get", "keys", "values", "items"})
SET_METHODS: Final[frozenset[str]] = frozenset(
    {"copy", "union", "intersection", "difference", "symmetric_difference", "issubset"}
    | {"issuperset", "isdisjoint"}
)

# Immutable builtin types: no method can change such a value.
IMMUTABLE_TYPES: Final[tuple[type, ...]] = (str, bytes, int, float, complex, bool, tuple, frozenset)

# Module-level functions that only read their arguments, by dotted name (`np.mean(a)`);
# numpy's within NUMPY_POSITIONAL.
PURE_FUNCTIONS: Final[frozenset[str]] = frozenset(
    {
        *(f"numpy.{f}" for f in ("sum", "mean", "median", "std", "var", "min", "max")),
        *(f"numpy.{f}" for f in ("abs", "sqrt", "log", "exp", "dot", "argmax", "argmin")),
        *(f"numpy.{f}" for f in ("isnan", "isfinite", "allclose", "array_equal", "shape")),
        *(f"math.{f}" for f in ("sqrt", "log", "exp", "floor", "ceil", "isclose", "fsum")),
        *(f"statistics.{f}" for f in ("mean", "median", "stdev", "pstdev", "fmean")),
        # Clocks and waits: they take numbers only (a slow API call is often a sleep).
        *(f"time.{f}" for f in ("sleep", "time", "perf_counter", "monotonic")),
    }
)
