"""What the kernel itself says in a cell's output: rich display data (text/html with a
text/plain fallback), never stderr, which JupyterLab paints like an error. Terminal IPython
and papermill/nbconvert output notebooks get the plain text."""

from __future__ import annotations

import html

from ..models import Checkpoint
from ..render import format_bytes, format_duration, format_when, terminal_safe
from ..sidecar import Location

# Marks our own outputs, so a test or the demo can tell them from a step's displays.
META_KEY = "mirrorneuron_nb"

# Muted text in any theme (JupyterLab, VS Code, dark or light): inherit the colour, fade it.
_NOTE = "font-size:0.9em;opacity:0.8;margin:2px 0"
_WARN = "font-size:0.9em;margin:2px 0;color:#b45309"


def publish(plain: str, markup: str, kind: str) -> None:
    """Show `markup` (already escaped) where HTML renders, `plain` elsewhere."""
    from IPython.display import publish_display_data

    data = {"text/plain": plain, "text/html": markup}
    publish_display_data(data, {META_KEY: kind})  # type: ignore[no-untyped-call]


def restored(
    step: str, checkpoint: Checkpoint, loaded: int, unsaved: list[tuple[str, str]]
) -> None:
    """The banner of a step served from its checkpoint, and what it could not bring back."""
    when = format_when(checkpoint.created_at)
    took = format_duration(checkpoint.duration)
    size = format_bytes(checkpoint.size)
    plain = [
        f"mn_step {step}: restored from checkpoint of {when} "
        f"(took {took} then; {loaded} variable(s), {size})"
    ]
    markup = [
        f'<div style="{_NOTE}">&#x21ba; <b>{html.escape(step)}</b> restored from checkpoint'
        f" of {html.escape(when)} <span>(took {html.escape(took)} then; {loaded}"
        f" variable(s), {html.escape(size)})</span></div>"
    ]
    for name, reason in unsaved:
        line = (
            f"mn_step {step}: {name!r} is not in the checkpoint ({reason}); "
            "use --force to run the step again"
        )
        plain.append(terminal_safe(line))
        markup.append(f'<div style="{_WARN}">&#x26a0; {html.escape(line)}</div>')
    publish("\n".join(plain), "".join(markup), "restored")


def sidecar_notice(location: Location) -> None:
    """Said once per kernel, in the first step's output, when no front end told the kernel
    which notebook it runs: where the steps go, and how to choose."""
    text = (
        f"mn_step: this kernel was not told which notebook it runs, so steps are kept in "
        f"{location.sidecar} (shared by every notebook run here without a path). "
        f"To keep this notebook's own NAME.mn beside it, set MIRRORNEURON_SIDECAR="
        f"/path/to/NAME.mn in the kernel's environment (before %load_ext mirrorneuron_nb), "
        f"or run it with `mn-nb run NAME.ipynb`."
    )
    plain = terminal_safe(text)
    publish(plain, f'<div style="{_NOTE}">&#x2139; {html.escape(plain)}</div>', "sidecar")
