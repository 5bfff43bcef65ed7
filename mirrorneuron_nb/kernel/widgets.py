"""ipywidgets views shown in cells: the approval gate's question and buttons."""

from __future__ import annotations

import getpass
from typing import Any

from ..errors import InvalidInput
from ..store import Store


def show_approval(store: Store, step: str, question: str, run_id: str | None) -> None:
    import ipywidgets as w
    from IPython.display import display

    prompt = w.HTML(
        f"<b>Approval needed for step <code>{_escape(step)}</code></b>: {_escape(question)}"
    )
    note = w.Text(placeholder="note (optional)", layout=w.Layout(width="24em"))
    approve = w.Button(description="Approve", button_style="success", icon="check")
    reject = w.Button(description="Reject", button_style="danger", icon="times")
    status = w.HTML()

    def decide(ok: bool) -> None:
        approve.disabled = reject.disabled = note.disabled = True
        try:
            decision = store.decide(step, ok, getpass.getuser(), note.value or None, run_id)
        except InvalidInput as exc:  # decided meanwhile (the panel, mn-nb approve)
            status.value = f"Already decided elsewhere ({_escape(exc)}): run the cell again."
            return
        verb = "Approved" if ok else "Rejected"
        follow = "run this cell again to continue" if ok else "later steps will not run"
        status.value = f"{verb} by {_escape(decision.decided_by or '?')}: {follow}."

    approve.on_click(lambda _: decide(True))
    reject.on_click(lambda _: decide(False))
    display(w.VBox([prompt, w.HBox([approve, reject, note]), status]))


def _escape(text: Any) -> str:
    import html

    return html.escape(str(text))
