"""What the kernel itself shows in a cell, in a real kernel: the restored banner and
%mn_status as rich output (text/html + text/plain), never on stderr; the timeline; the
event a resume leaves (typed, or sent by the panel)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from ..helpers import fresh, run, sidecar, usage_error
from ..kernels import Execution, Kernel
from ..messages import RESTORED

pytestmark = pytest.mark.kernel

LOAD = "%%mn_step load\nimport time\ntime.sleep(0.3)\nrows = list(range(1000))\n"
PREP = "%%mn_step prep\nclean = [r * 2 for r in rows]\nprint('prepared', len(clean))\n"
HOSTILE = "<script>alert(1)</script></table>"
# What the Steps panel sends to resume (labextension/src/execute.ts RESUME_CODE).
META_KEY = "mirrorneuron_nb"  # kernel/banners.py
PANEL_RESUME = (
    'if "mirrorneuron_nb" not in get_ipython().extension_manager.loaded:\n'
    "    %load_ext mirrorneuron_nb\n"
    "%mn_resume"
)


def only_own(out: Execution) -> dict[str, str]:
    """The one output the kernel published itself, with both renderings."""
    assert len(out.own) == 1, out.own
    data = out.own[0]
    assert set(data) == {"text/plain", "text/html"}, data
    return data


def test_restored_banner_is_rich_output_never_stderr(kernel: Kernel) -> None:
    first = run(kernel, LOAD)
    again = run(kernel, LOAD)
    assert again.stderr == "" and RESTORED not in again.stdout
    assert first.stderr == ""
    # No notebook known: the first step says once which sidecar it uses, and how to choose.
    notice = only_own(first)["text/plain"]
    assert "mirrorneuron.mn" in notice and "MIRRORNEURON_SIDECAR" in notice
    banner = only_own(again)
    assert banner["text/plain"].startswith(f"mn_step load: {RESTORED} of ")
    assert RESTORED in banner["text/html"] and banner["text/html"].startswith("<div")
    assert again.displays == []  # only the banner: no stray output


def test_mn_status_is_html_with_a_plain_fallback_and_escapes(kernel: Kernel) -> None:
    run(kernel, LOAD)
    failed = kernel.run(f"%%mn_step boom\nraise ValueError({HOSTILE!r})\n", check=False)
    assert failed.error is not None

    out = run(kernel, "%mn_status")
    assert out.stdout == "" and out.stderr == ""
    shown = only_own(out)
    plain, markup = shown["text/plain"], shown["text/html"]
    assert plain.splitlines()[1].split() == [
        "step",
        "status",
        "duration",
        "attempts",
        "checkpoint",
        "last",
        "run",
        "detail",
    ]
    assert "<table" in markup and markup.count("</table>") == 1
    assert "<script>" not in markup and "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert "ValueError: &lt;script&gt;" in markup and "ValueError: <script>" in plain


def test_timeline_shows_what_the_restart_restored(kernel: Kernel, workdir: Path) -> None:
    run(kernel, LOAD)
    run(kernel, PREP)
    fresh(kernel)
    run(kernel, LOAD)
    run(kernel, PREP)

    drawn = only_own(run(kernel, "%mn_status --timeline"))
    plain, markup = drawn["text/plain"], drawn["text/html"]
    heading = plain.splitlines()[0]
    assert heading.startswith("run ") and "restored 2 steps: saved " in heading
    assert [line.split()[0] for line in plain.splitlines()[1:3]] == ["load", "prep"]
    assert markup.count('title="load: restored') == 1 and markup.count('title="prep: restored') == 1
    assert "restored 2 steps: saved" in markup

    both = only_own(run(kernel, "%mn_status --timeline --runs 2"))["text/plain"]
    assert both.count("\nload ") == 2 and "\nload             |=" in both  # it ran in the first
    assert "--runs" in usage_error(kernel, "%mn_status --timeline --runs 0")


def test_a_resume_from_the_panel_leaves_an_event(kernel: Kernel, workdir: Path) -> None:
    run(kernel, LOAD)
    kernel.restart()  # the panel resumes a kernel that has not loaded the extension
    out = run(kernel, PANEL_RESUME)
    assert "mn_resume: restored 2 variable(s) from 1 step(s)" in out.stdout
    with sqlite3.connect(sidecar(workdir) / "state.sqlite") as db:
        rows = db.execute("SELECT run_id, detail FROM events WHERE kind='resumed'").fetchall()
        checkpoint = db.execute("SELECT checkpoint_id FROM steps WHERE name='load'").fetchone()
        runs = {r[0] for r in db.execute("SELECT id FROM runs")}
    assert len(rows) == 1 and rows[0][0] in runs
    detail = json.loads(rows[0][1])
    assert detail["steps"] == ["load"] and detail["checkpoints"] == {"load": checkpoint[0]}
    assert detail["variables"] == 2 and detail["missing"] == []
    heading = only_own(run(kernel, "%mn_status --timeline"))["text/plain"].splitlines()[0]
    assert "restored 1 step: saved " in heading


def test_the_kernels_own_outputs_are_marked(kernel: Kernel) -> None:
    """Front ends and the driver tell them from a step's displays by their metadata."""
    msg_id = kernel.kc.execute("%mn_status")
    metadata = []
    while True:
        msg = kernel.kc.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "display_data":
            metadata.append(msg["content"]["metadata"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    kernel.kc.get_shell_msg(timeout=60)
    assert metadata == [{META_KEY: "status"}]
