"""What an IPython magic inside a step body does to the data: the registry of magic effects.

A step body reaches the analysis after IPython's transforms: `%time f(x)` arrives as
`get_ipython().run_line_magic('time', 'f(x)')`. Three kinds of magic:
- magics that run code (their argument or body) in the user's namespace: the analysis
  reads that code too (`CODE_RUNNING`);
- magics with no effect on data (display, configuration, help): nothing to add;
- everything else (`%run`, `%load`, `!cmd`, `%%bash`, unknown or user-defined magics):
  opaque. The step cannot know what it reads or writes, so it always runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from IPython.core import inputtransformer2, magic_arguments
from IPython.core.error import UsageError
from IPython.core.magic import Magics, magics_class
from IPython.core.magics.execution import ExecutionMagics

from ..errors import InvalidInput


@dataclass(frozen=True)
class MagicCode:
    code: str
    """The code the magic runs, after IPython's transforms (it may hold magics itself)."""
    binds: bool
    """It runs in the user's namespace, so what it binds stays bound (not so `%timeit`)."""


@dataclass(frozen=True)
class Effect:
    runs: tuple[MagicCode, ...] = ()
    binds: tuple[str, ...] = ()
    """Names the magic itself binds (`%%capture out`, `%timeit -v name`)."""
    opaque: str | None = None
    """Why what the magic does cannot be known."""


# Magics that change no value of the namespace: display, configuration, help, listings.
NO_EFFECT_LINE = frozenset(
    {
        "matplotlib", "load_ext", "config", "precision", "pprint", "who", "whos", "lsmagic", "pwd",
        "magic", "quickref", "colors", "xmode", "page", "history", "hist",
        "pinfo", "pinfo2", "pdef", "pdoc", "psource", "pfile", "psearch",
    }
)  # fmt: skip
NO_EFFECT_CELL = frozenset({"html", "javascript", "js", "latex", "svg", "markdown"})


@magics_class
class _Options(Magics):
    """Only for IPython's own option parser (`parse_options`), without a shell."""


_OPTIONS = _Options(shell=None)
# IPython's own parsers, untyped.
_TRANSFORMER: Any = inputtransformer2.TransformerManager
_PARSE: Any = magic_arguments.parse_argstring


def transform_cell(text: str) -> str:
    """A cell as IPython runs it (magics turned into calls), without any shell."""
    return str(_TRANSFORMER().transform_cell(text))


_code = transform_cell


def _time(line: str, cell: str | None) -> Effect:
    _, extra = _PARSE(ExecutionMagics.time, line, partial=True)
    statement = " ".join(extra)
    if statement and cell:
        raise UsageError("Can't use statement directly after '%%time'!")
    return Effect(runs=(MagicCode(_code(cell or statement), binds=True),))


def _timeit(line: str, cell: str | None) -> Effect:
    opts, statement = _OPTIONS.parse_options(
        line, "n:r:tcp:qov:", posix=False, strict=False, preserve_non_opts=True
    )
    # Setup (the line of %%timeit) then the timed code, inside one function: they read the
    # namespace, and what they bind is local to it.
    code = _code(statement) if cell is None else f"{_code(statement)}\n{_code(cell)}"
    saved = (str(opts["v"]),) if "v" in opts else ()
    return Effect(runs=(MagicCode(code, binds=False),), binds=saved)


def _prun(line: str, cell: str | None) -> Effect:
    _, statement = _OPTIONS.parse_options(line, "D:l:rs:T:q", list_all=True, posix=False)
    code = statement if cell is None else f"{statement}\n{cell}"
    return Effect(runs=(MagicCode(_code(code), binds=True),))


def _capture(line: str, cell: str | None) -> Effect:
    args = _PARSE(ExecutionMagics.capture, line)
    output = (str(args.output),) if args.output else ()
    return Effect(runs=(MagicCode(_code(cell or ""), binds=True),), binds=output)


CODE_RUNNING: dict[tuple[str, str], Callable[[str, str | None], Effect]] = {
    ("line", "time"): _time,
    ("cell", "time"): _time,
    ("line", "timeit"): _timeit,
    ("cell", "timeit"): _timeit,
    ("line", "prun"): _prun,
    ("cell", "prun"): _prun,
    ("cell", "capture"): _capture,
}


def shown(kind: str, name: str) -> str:
    return f"%{name}" if kind == "line" else f"%%{name}"


def effect(kind: str, name: str, line: str, cell: str | None) -> Effect:
    """The effect of `run_line_magic(name, line)` (kind 'line') or
    `run_cell_magic(name, line, cell)` (kind 'cell')."""
    runner = CODE_RUNNING.get((kind, name))
    if runner is not None:
        try:
            return runner(line, cell)
        except UsageError as exc:
            raise InvalidInput(f"{shown(kind, name)}: {exc}") from None
    if name in (NO_EFFECT_LINE if kind == "line" else NO_EFFECT_CELL):
        return Effect()
    return Effect(opaque=f"{shown(kind, name)} cannot be analysed")


def foreign(shell: Any, magics: frozenset[tuple[str, str]]) -> list[str]:
    """The magics among those seen through that are not IPython's own (a user or an
    extension registered a magic of the same name): what they do is unknown."""
    table = shell.magics_manager.magics
    out = []
    for kind, name in sorted(magics):
        fn = table.get(kind, {}).get(name)
        if fn is None or not str(getattr(fn, "__module__", "")).startswith("IPython."):
            out.append(f"{shown(kind, name)} is not IPython's own and cannot be analysed")
    return out
