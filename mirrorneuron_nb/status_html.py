"""`%mn_status` as a compact HTML table that fits a normal cell (~700 px): one line per
step, long text cut with an ellipsis and shown whole in its tooltip; with the plain table
as the text/plain fallback. Everything from the sidecar is escaped."""

from __future__ import annotations

from pathlib import Path

from .models import GOOD
from .models import StepStatus as S
from .render import html_safe
from .status import NO_STEPS, STATUS_HEADERS, StepView, status_rows, status_table

# Mid-tone colours, readable on light and dark themes alike.
STATUS_COLOURS: dict[S, str] = {
    **dict.fromkeys(GOOD, "#16a34a"),
    **dict.fromkeys((S.failed, S.interrupted, S.rejected), "#dc2626"),
    **dict.fromkeys((S.running, S.retrying), "#2563eb"),
    **dict.fromkeys((S.awaiting_approval, S.approved, S.sleeping), "#d97706"),
    S.stale: "#9333ea",
    S.pending: "#6b7280",
}
# Short headers (the plain table's names in their tooltips) and column widths in px (the
# detail takes what is left of the table's width).
HEADERS = ("step", "status", "took", "tries", "size", "last run", "detail")
WIDTHS = (128, 116, 56, 44, 70, 76, None)
MAX_WIDTH = 700

_BOX = (
    f"max-width:{MAX_WIDTH}px;font-family:var(--jp-ui-font-family,system-ui,sans-serif);"
    "font-size:12px;line-height:1.5"
)
_CELL = "padding:1px 6px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;text-align:left"


def status_plain(views: list[StepView], sidecar: Path) -> str:
    return f"sidecar: {sidecar}\n{status_table(views)}"


def status_html(views: list[StepView], sidecar: Path) -> str:
    head = (
        f'<div style="opacity:0.75;{_CELL};padding:0" title="{html_safe(str(sidecar))}">'
        f"sidecar: {html_safe(str(sidecar))}</div>"
    )
    if not views:
        return f'<div style="{_BOX}">{head}<div>{html_safe(NO_STEPS)}</div></div>'
    cols = "".join(f'<col style="width:{w}px">' if w else "<col>" for w in WIDTHS)
    header = "".join(
        f'<th style="{_CELL};font-weight:600;border-bottom:1px solid rgba(128,128,128,0.4)" '
        f'title="{html_safe(full)}">{html_safe(h)}</th>'
        for h, full in zip(HEADERS, STATUS_HEADERS, strict=True)
    )
    body = "".join(_row(v, cells) for v, cells in zip(views, status_rows(views), strict=True))
    return (
        f'<div class="mn-status" style="{_BOX}">{head}'
        '<table style="table-layout:fixed;width:100%;border-collapse:collapse;margin:2px 0;'
        'font-size:12px">'
        f"<colgroup>{cols}</colgroup><thead><tr>{header}</tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def _row(v: StepView, cells: list[str]) -> str:
    colour = STATUS_COLOURS.get(v.status, "#6b7280")
    out = []
    for i, text in enumerate(cells):
        safe = html_safe(text)
        shown = safe
        if i == 1:
            shown = f'<span style="color:{colour}">&#x25cf;</span> {safe}'
        out.append(f'<td style="{_CELL}" title="{safe}">{shown}</td>')
    return f"<tr>{''.join(out)}</tr>"
