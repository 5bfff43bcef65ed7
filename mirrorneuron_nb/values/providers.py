"""The library-state providers we ship (see libstate.py): one class per kind of
process-wide state, each reading it without importing its library."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from typing import Any


def _loaded(module: str) -> Any:
    return sys.modules.get(module)


def _dict_changes(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any] | None:
    """Keys whose value is new or different (equality, with NaN-safe repr fallback)."""
    before = before or {}
    try:
        if before == after:  # in C, and identical objects compare by identity: the usual case
            return None
    except Exception:
        pass
    out = {}
    for key, value in after.items():
        if key not in before or not _same(before[key], value):
            out[key] = value
    return out or None


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return repr(a) == repr(b)


class MatplotlibRc:
    """rcParams: `plt.rc`, `plt.style.use`, `sns.set_theme`, `mpl.rcParams[...] = ...`."""

    name = "matplotlib rcParams"
    # The backend belongs to the frontend that runs the kernel, not to the notebook.
    _SKIPPED = frozenset({"backend", "backend_fallback", "interactive"})

    def read(self) -> Any:
        mpl = _loaded("matplotlib")
        if mpl is None:
            return None
        return {k: v for k, v in dict.items(mpl.rcParams) if k not in self._SKIPPED}

    def changes(self, before: Any, after: Any) -> Any:
        if before is None:
            # matplotlib was imported by this step: keep what differs from its defaults.
            mpl = _loaded("matplotlib")
            before = dict(mpl.rcParamsDefault) if mpl is not None else {}
        return _dict_changes(before, after)

    def apply(self, change: Any) -> None:
        import importlib

        importlib.import_module("matplotlib").rcParams.update(change)


class NumpyRandom:
    """numpy's global generator: `np.random.seed`, and every draw from `np.random.*`."""

    name = "numpy random"

    def read(self) -> Any:
        np = _loaded("numpy")
        return None if np is None else np.random.get_state()

    def changes(self, before: Any, after: Any) -> Any:
        if before is not None and _rng_equal(before, after):
            return None
        return after

    def apply(self, change: Any) -> None:
        import numpy as np

        np.random.set_state(change)


def _rng_equal(a: Any, b: Any) -> bool:
    import numpy as np

    return bool(a[0] == b[0] and np.array_equal(a[1], b[1]) and tuple(a[2:]) == tuple(b[2:]))


class NumpyPrintOptions:
    """`np.set_printoptions(...)` (precision, suppress, linewidth...)."""

    name = "numpy print options"

    def read(self) -> Any:
        np = _loaded("numpy")
        return None if np is None else np.get_printoptions()

    # numpy's documented defaults: what a step that imports numpy is compared with.
    DEFAULTS = {
        "edgeitems": 3,
        "threshold": 1000,
        "floatmode": "maxprec",
        "precision": 8,
        "suppress": False,
        "linewidth": 75,
        "nanstr": "nan",
        "infstr": "inf",
        "sign": "-",
    }

    def changes(self, before: Any, after: Any) -> Any:
        if before is None:
            before = self.DEFAULTS
            after = {k: v for k, v in after.items() if k in self.DEFAULTS}
        return _dict_changes(before, after)

    def apply(self, change: Any) -> None:
        import numpy as np

        np.set_printoptions(**change)


class NumpyErrors:
    """`np.seterr(...)`: what numpy does on division by zero, overflow, invalid values."""

    name = "numpy floating-point errors"

    def read(self) -> Any:
        np = _loaded("numpy")
        return None if np is None else np.geterr()

    DEFAULTS = {"divide": "warn", "over": "warn", "under": "ignore", "invalid": "warn"}

    def changes(self, before: Any, after: Any) -> Any:
        return _dict_changes(self.DEFAULTS if before is None else before, after)

    def apply(self, change: Any) -> None:
        import numpy as np

        np.seterr(**change)


class DecimalContext:
    """`decimal.getcontext().prec = ...`: the precision, rounding and traps of Decimal."""

    name = "decimal context"
    _FIELDS = ("prec", "rounding", "Emin", "Emax", "capitals", "clamp")

    def read(self) -> Any:
        module = _loaded("decimal")
        if module is None:
            return None
        return self._of(module.getcontext())

    def changes(self, before: Any, after: Any) -> Any:
        if before is None:
            import decimal

            before = self._of(decimal.DefaultContext)
        return _dict_changes(before, after)

    def _of(self, context: Any) -> dict[str, Any]:
        out = {f: getattr(context, f) for f in self._FIELDS}
        out["traps"] = sorted(t.__name__ for t, on in context.traps.items() if on)
        return out

    def apply(self, change: Any) -> None:
        import decimal

        context = decimal.getcontext()
        for key, value in change.items():
            if key == "traps":
                for signal in list(context.traps):
                    context.traps[signal] = signal.__name__ in value
            else:
                setattr(context, key, value)


class PythonRandom:
    """The `random` module's global generator."""

    name = "random"

    def read(self) -> Any:
        module = _loaded("random")
        return None if module is None else module.getstate()

    def changes(self, before: Any, after: Any) -> Any:
        return None if before == after else after

    def apply(self, change: Any) -> None:
        import random

        random.setstate(change)


class PandasOptions:
    """`pd.set_option(...)`, `pd.options.display.max_rows = ...`."""

    name = "pandas options"

    def read(self) -> Any:
        if _loaded("pandas") is None:
            return None
        # pandas keeps its options in one nested dict: reading it directly costs ~30 us,
        # asking get_option() for each of them ~250 us (this runs twice per step).
        from pandas._config import config

        return _flatten(getattr(config, "_global_config", {}))

    def changes(self, before: Any, after: Any) -> Any:
        if before is None:  # pandas was imported by this step: compare with its defaults
            from pandas._config import config

            registered = getattr(config, "_registered_options", {})
            before = {k: o.defval for k, o in registered.items()}
        return _dict_changes(before, after)

    def apply(self, change: Any) -> None:
        import pandas as pd

        for key, value in change.items():
            pd.set_option(key, value)


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


class WarningFilters:
    """`warnings.filterwarnings(...)`, `warnings.simplefilter(...)`."""

    name = "warnings filters"

    def read(self) -> Any:
        return list(warnings.filters)

    def changes(self, before: Any, after: Any) -> Any:
        return None if before == after else after

    def apply(self, change: Any) -> None:
        filters: list[Any] = warnings.filters  # type: ignore[assignment]
        filters[:] = change
        mutated: Callable[[], None] | None = getattr(warnings, "_filters_mutated", None)
        if mutated is not None:
            mutated()


class Environment:
    """`os.environ[...] = ...`, `%env`; a removed variable is recorded as None."""

    name = "environment variables"

    def read(self) -> Any:
        return dict(os.environ)

    def changes(self, before: Any, after: Any) -> Any:
        before = before or {}
        out = {k: v for k, v in after.items() if before.get(k) != v}
        out.update({k: None for k in before if k not in after})
        return out or None

    def apply(self, change: Any) -> None:
        for key, value in change.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class WorkingDirectory:
    """`os.chdir(...)`, `%cd`."""

    name = "working directory"

    def read(self) -> Any:
        try:
            return os.getcwd()
        except OSError:  # the directory was deleted under us
            return None

    def changes(self, before: Any, after: Any) -> Any:
        return None if before == after else after

    def apply(self, change: Any) -> None:
        os.chdir(change)


class ImportPath:
    """`sys.path.append(...)`, `sys.path.insert(0, ...)`: entries added and removed."""

    name = "sys.path"

    def read(self) -> Any:
        return list(sys.path)

    def changes(self, before: Any, after: Any) -> Any:
        before = before or []
        front = []
        for entry in after:  # entries put in front of everything that was there
            if entry in before:
                break
            front.append(entry)
        back = [e for e in after if e not in before and e not in front]
        removed = [e for e in before if e not in after]
        if not (front or back or removed):
            return None
        return {"front": front, "back": back, "removed": removed}

    def apply(self, change: Any) -> None:
        for entry in change["removed"]:
            while entry in sys.path:
                sys.path.remove(entry)
        for entry in reversed(change["front"]):
            if entry not in sys.path:
                sys.path.insert(0, entry)
        for entry in change["back"]:
            if entry not in sys.path:
                sys.path.append(entry)


class TorchRandom:
    """torch's global CPU generator (`torch.manual_seed`), when torch is imported."""

    name = "torch random"

    def read(self) -> Any:
        torch = _loaded("torch")
        return None if torch is None else torch.get_rng_state()

    def changes(self, before: Any, after: Any) -> Any:
        torch: Any = sys.modules["torch"]
        if before is not None and torch.equal(before, after):
            return None
        return after.numpy().tobytes()

    def apply(self, change: Any) -> None:
        torch: Any = sys.modules.get("torch") or __import__("torch")
        torch.set_rng_state(torch.frombuffer(bytearray(change), dtype=torch.uint8))


DEFAULT_PROVIDERS = (
    MatplotlibRc(),
    NumpyRandom(),
    NumpyPrintOptions(),
    NumpyErrors(),
    PythonRandom(),
    DecimalContext(),
    PandasOptions(),
    WarningFilters(),
    Environment(),
    WorkingDirectory(),
    ImportPath(),
    TorchRandom(),
)
