"""The HTML of %mn_status and of the timeline: everything from the sidecar escaped (it is
untrusted), long text cut with an ellipsis; and the plain-text fallbacks."""

from __future__ import annotations

import re
from pathlib import Path

from mirrorneuron_nb.models import StepStatus
from mirrorneuron_nb.render import ELLIPSIS, clip
from mirrorneuron_nb.status import StepView, status_table
from mirrorneuron_nb.status_html import status_html, status_plain
from mirrorneuron_nb.timeline import Bar, RunTimeline, Timeline
from mirrorneuron_nb.timeline_view import NO_RUNS, timeline_html, timeline_plain

HOSTILE = '<script>alert("x")</script></table><img src=x onerror=alert(1)>'
SIDECAR = Path("/tmp/nb.mn")


def view(name: str, status: StepStatus, error: str | None = None) -> StepView:
    return StepView(
        name=name,
        status=status,
        position=0,
        duration=1.5,
        attempts=1,
        checkpoint_bytes=100,
        last_run=None,
        error=error,
        stale_reason=None,
        in_notebook=True,
    )


def test_status_html_escapes_what_the_sidecar_says() -> None:
    views = [view("x" + HOSTILE, StepStatus.failed, "ValueError: " + HOSTILE)]
    markup = status_html(views, SIDECAR)
    assert "<script" not in markup and "<img" not in markup
    assert markup.count("</table>") == 1  # only the table's own end tag
    assert "&lt;script&gt;" in markup and "&lt;/table&gt;" in markup
    # Quotes in a title attribute cannot end it.
    assert 'title="ValueError: &lt;script&gt;alert(&quot;x&quot;)' in markup
    # The plain fallback is the table (text: nothing to escape but terminal controls).
    assert status_plain(views, SIDECAR).startswith(f"sidecar: {SIDECAR}\nstep ")


def test_status_html_is_a_fixed_width_table_with_ellipses() -> None:
    long_error = "RuntimeError: " + "the remote service answered something long " * 6
    markup = status_html([view("train", StepStatus.failed, long_error)], SIDECAR)
    assert "max-width:700px" in markup and "table-layout:fixed" in markup
    assert "text-overflow:ellipsis" in markup and "white-space:nowrap" in markup
    assert f'title="{long_error}"' in markup  # the whole text in the tooltip
    # The plain table cuts the detail at a word, with an ellipsis.
    row = status_table([view("train", StepStatus.failed, long_error)]).splitlines()[2]
    detail = row.split("  ")[-1].strip()
    assert detail.endswith(ELLIPSIS) and len(detail) <= 80
    assert long_error.startswith(detail[:-1]) and detail[-2] != " "
    assert long_error[len(detail) - 1] == " "  # cut at a word boundary


def test_shorten_never_cuts_without_an_ellipsis() -> None:
    assert clip("short", 10) == "short"
    assert clip("two words here", 10) == "two words" + ELLIPSIS
    assert clip("abcdefghijklmnop", 8) == "abcdefg" + ELLIPSIS
    assert all(len(clip("word " * 30, n)) <= n for n in range(1, 60))


def run_with(bars: list[Bar], restored: int = 0, saved: float = 0.0) -> Timeline:
    run = RunTimeline(
        run_id="abcdef0123456789",
        kind="interactive",
        status="ended",
        started_at=100.0,
        ended_at=130.0,
        restored=restored,
        saved_seconds=saved,
        bars=bars,
    )
    return Timeline(runs=[run])


def bar(step: str, outcome: str, start: float, end: float | None, detail: str = "") -> Bar:
    return Bar.model_validate(
        {
            "step": step,
            "outcome": outcome,
            "start": start,
            "end": end,
            "attempt": 1,
            "detail": detail,
        }
    )


def test_timeline_draws_one_row_per_step_coloured_by_outcome() -> None:
    drawn = run_with(
        [
            bar("load", "restored", 100.0, 100.0),
            bar("prep", "restored", 100.1, 100.1),
            bar("fit", "retried", 101.0, 105.0, "ConnectionError"),
            bar("fit", "ran", 106.0, 120.0),
            bar("report", "waiting", 120.0, 130.0, "awaiting approval: send?"),
        ],
        restored=2,
        saved=192.0,
    )
    markup = timeline_html(drawn, now=130.0)
    rows = re.findall(r'title="(\w+)">\1</div><div style="position:relative', markup)
    assert rows == ["load", "prep", "fit", "report"]
    assert markup.count("background:#0891b2") == 2 + 1  # two restored bars + the legend
    assert "restored 2 steps: saved 3 min 12 s" in markup
    plain = timeline_plain(drawn, now=130.0)
    lines = plain.splitlines()
    heading = "run abcdef01 (interactive, ended); 30.0 s; restored 2 steps: saved 3 min 12 s"
    assert lines[0] == heading
    fit = next(line for line in lines if line.startswith("fit "))
    assert "r" in fit.split("|")[1] and "=" in fit.split("|")[1]
    assert fit.split("|")[2].split()[0] == "ran"


def test_timeline_escapes_step_names_and_details() -> None:
    drawn = run_with([bar("x" + HOSTILE, "failed", 100.0, 101.0, HOSTILE)])
    markup = timeline_html(drawn, now=130.0)
    assert "<script" not in markup and "<img" not in markup and "</table>" not in markup
    assert "&lt;script&gt;" in markup
    assert timeline_plain(Timeline(runs=[])) == NO_RUNS
    assert NO_RUNS in timeline_html(Timeline(runs=[]))
