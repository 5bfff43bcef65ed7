"""Agent-grade steps in the REST API, against a real in-process Jupyter server (jp_fetch):
the kind / once / approval / durable-call facts of each row, and POST /approve (decisions
recorded under the authenticated Jupyter user's name, 409 when nothing waits, bad input,
auth and path confinement)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth.identity import IdentityProvider, User
from tornado import web
from traitlets.config import Config

from mirrorneuron_nb.sidecar import sidecar_of

from ..messages import NO_SIDECAR_YET
from .builders import Kernelish, body, notebook

STEPS = {
    "load": "docs = ['a', 'b']",
    "summarize": "summaries = [summarize(d) for d in docs]",
    "publish": "post(summaries)",
    "report": "print(len(summaries))",
}
NB = "agents/run.ipynb"


class NamedUser(IdentityProvider):
    """Jupyter's own token check, with a named user instead of a random anonymous one (as
    JupyterHub or a login page would give): decisions must carry this name."""

    def generate_anonymous_user(self, handler: web.RequestHandler) -> User:
        return User(username="ada", name="Ada Lovelace", display_name="Ada")


@pytest.fixture
def jp_server_config() -> Config:
    return Config(
        {
            "ServerApp": {
                "jpserver_extensions": {"mirrorneuron_nb": True},
                "identity_provider_class": NamedUser,
            }
        }
    )


@pytest.fixture
def nb(root: Path) -> Path:
    return notebook(root / NB, STEPS)


async def rows(api: Any) -> dict[str, Any]:
    data = body(await api("steps", path=NB))
    return {row["name"]: row for row in data["steps"]}


def approve(api: Any, payload: Any) -> Any:
    return api("approve", "POST", payload)


# -- the new facts of a row --------------------------------------------------------------------


async def test_rows_carry_kind_once_and_durable_call_counts(api: Any, nb: Path, kernel: Any):
    kernel.succeed("load", STEPS["load"], {"docs": 100})
    # An LLM loop that made 70 calls (2 raised) and succeeded: the closed journal counts.
    attempt = kernel.begin("summarize", STEPS["summarize"], kind="llm")
    kernel.calls(attempt, succeeded=70, failed=2)
    kernel.succeed("summarize", STEPS["summarize"], {"summaries": 10}, attempt=attempt)
    # A once-only tool step that died after 3 calls (1 result not recordable): the open
    # journal is what a re-run replays.
    attempt = kernel.begin("publish", STEPS["publish"], once=True, kind="tool")
    kernel.calls(attempt, succeeded=3, unsaved=1)
    kernel.fail("publish", STEPS["publish"], "ConnectionError: reset", attempt=attempt)

    got = await rows(api)
    facts = {
        name: (
            r["kind"],
            r["once"],
            r["durable_recorded"],
            r["durable_failed"],
            r["durable_unsaved"],
            r["approval"],
        )
        for name, r in got.items()
    }
    assert facts == {
        "load": ("compute", False, 0, 0, 0, None),
        "summarize": ("llm", False, 70, 2, 0, None),
        "publish": ("tool", True, 3, 0, 1, None),
        "report": ("compute", False, 0, 0, 0, None),  # never ran: pending
    }
    assert got["publish"]["status"] == "failed"
    detail = body(await api("step", path=NB, name="summarize"))
    assert (detail["step"]["kind"], detail["step"]["durable_recorded"]) == ("llm", 70)


async def test_rows_without_a_sidecar_have_default_facts(api: Any, nb: Path):
    row = (await rows(api))["publish"]
    assert (row["kind"], row["once"], row["approval"], row["durable_recorded"]) == (
        "compute",
        False,
        None,
        0,
    )


async def test_step_awaiting_approval_shows_its_question(api: Any, nb: Path, kernel: Any):
    kernel.succeed("load", STEPS["load"], {"docs": 100})
    kernel.succeed("summarize", STEPS["summarize"], {"summaries": 10})
    asked = kernel.ask("publish", STEPS["publish"], "Ship it?", once=True, kind="tool")
    data = body(await api("steps", path=NB))
    row = {r["name"]: r for r in data["steps"]}["publish"]
    assert row["status"] == "awaiting_approval"
    assert (row["kind"], row["once"]) == ("tool", True)
    assert row["approval"] == {
        "question": "Ship it?",
        "status": "pending",
        "requested_at": asked.requested_at,
        "decided_at": None,
        "decided_by": None,
        "note": None,
    }
    assert data["summary"]["text"] == "2 of 4 steps good; 1 awaiting approval"
    assert data["summary"]["first_unfinished"] == "publish"


# -- POST /approve -----------------------------------------------------------------------------


async def test_approve_records_the_jupyter_user_and_the_row_turns_approved(
    api: Any, nb: Path, kernel: Any
):
    kernel.ask("publish", STEPS["publish"], "Ship it?")
    before = body(await api("steps", path=NB))
    r = await approve(api, {"path": NB, "name": "publish", "approve": True})
    assert r.code == 200
    answer = body(r)
    assert (answer["path"], answer["name"]) == (NB, "publish")
    assert answer["approval"]["status"] == "approved"
    assert answer["approval"]["decided_by"] == "Ada Lovelace"
    assert answer["approval"]["note"] is None and answer["approval"]["decided_at"] is not None
    # The sidecar has the decision; the next poll sees it without any kernel involved.
    assert kernel.store.approval("publish").decided_by == "Ada Lovelace"
    assert kernel.store.events(step="publish")[-1].kind == "approved"
    after = body(await api("steps", path=NB, since=before["token"]))
    assert after["changed"] is True
    row = {r["name"]: r for r in after["steps"]}["publish"]
    assert row["status"] == "approved"
    assert row["approval"]["status"] == "approved"
    assert "awaiting approval" not in after["summary"]["text"]
    # The cell runs again and passes the gate: the approval is used up.
    kernel.succeed("publish", STEPS["publish"], {"receipt": 10})
    row = (await rows(api))["publish"]
    assert (row["status"], row["approval"]) == ("succeeded", None)


async def test_reject_with_a_note(api: Any, nb: Path, kernel: Any):
    kernel.ask("publish", STEPS["publish"], "Ship it?")
    r = await approve(
        api, {"path": NB, "name": "publish", "approve": False, "note": "  not on a Friday "}
    )
    assert r.code == 200
    assert body(r)["approval"]["status"] == "rejected"
    assert body(r)["approval"]["note"] == "not on a Friday"
    row = (await rows(api))["publish"]
    assert row["status"] == "rejected"
    assert row["error"] == "rejected by Ada Lovelace: not on a Friday"
    assert row["approval"]["note"] == "not on a Friday"
    assert row["approval"]["decided_by"] == "Ada Lovelace"


async def test_a_step_not_waiting_is_409_and_nothing_changes(api: Any, nb: Path, kernel: Any):
    kernel.succeed("load", STEPS["load"], {"docs": 100})
    kernel.ask("publish", STEPS["publish"], "Ship it?")
    assert (await approve(api, {"path": NB, "name": "publish", "approve": True})).code == 200
    events = len(kernel.store.events())
    cases = [
        ("load", "step 'load' is not awaiting approval (it is succeeded)"),
        ("publish", "step 'publish' is not awaiting approval: it was already approved by Ada"),
    ]
    for name, message in cases:
        r = await approve(api, {"path": NB, "name": name, "approve": False})
        assert r.code == 409, name
        assert body(r)["code"] == "not_awaiting_approval"
        assert body(r)["message"].startswith(message)
    r = await approve(api, {"path": NB, "name": "nope", "approve": True})
    assert (r.code, body(r)["code"]) == (404, "unknown_step")
    assert len(kernel.store.events()) == events
    assert kernel.store.approval("publish").status == "approved"


async def test_no_sidecar_yet_is_404(api: Any, nb: Path):
    r = await approve(api, {"path": NB, "name": "publish", "approve": True})
    assert (r.code, body(r)["code"]) == (404, "not_found")
    assert NO_SIDECAR_YET in body(r)["message"]
    assert not sidecar_of(nb).exists()


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ("not json", "body"),
        ([1, 2], "request"),
        ({"path": NB, "name": "publish"}, "approve"),
        ({"path": NB, "name": "publish", "approve": "yes"}, "approve"),
        ({"path": NB, "name": "publish", "approve": 1}, "approve"),
        ({"path": NB, "name": "a;b", "approve": True}, "name"),
        ({"path": NB, "approve": True}, "name"),
        ({"name": "publish", "approve": True}, "path"),
        ({"path": NB, "name": "publish", "approve": True, "note": 5}, "note"),
        ({"path": NB, "name": "publish", "approve": True, "note": "x" * 2001}, "note"),
        ({"path": NB, "name": "publish", "approve": True, "by": "mallory"}, "by"),
    ],
)
async def test_bad_body_is_400_and_changes_nothing(
    api: Any, nb: Path, kernel: Any, payload: Any, where: str
):
    kernel.ask("publish", STEPS["publish"], "Ship it?")
    r = await approve(api, payload)
    assert r.code == 400
    assert body(r)["code"] == "invalid_input"
    assert body(r)["message"].startswith(f"{where}:"), body(r)["message"]
    assert kernel.store.approval("publish").status == "pending"


async def test_approve_needs_auth(jp_fetch: Any, nb: Path, kernel: Any):
    kernel.ask("publish", STEPS["publish"], "Ship it?")
    r = await jp_fetch(
        "mirrorneuron",
        "api",
        "approve",
        method="POST",
        body=json.dumps({"path": NB, "name": "publish", "approve": True}),
        headers={"Authorization": ""},
        raise_error=False,
    )
    assert r.code == 403
    assert body(r)["code"] == "forbidden" and set(body(r)) == {"code", "message"}
    assert kernel.store.approval("publish").status == "pending"


async def test_paths_outside_the_root_are_refused(api: Any, root: Path, tmp_path: Path):
    outside = notebook(tmp_path / "secret" / "outside.ipynb", STEPS)
    k = Kernelish(outside)
    try:
        k.ask("publish", STEPS["publish"], "Ship it?")
        (root / "link").symlink_to(outside.parent, target_is_directory=True)
        for path in ["../secret/outside.ipynb", str(outside), "link/outside.ipynb"]:
            r = await approve(api, {"path": path, "name": "publish", "approve": True})
            assert r.code == 400, path
            assert body(r) == {
                "code": "path_outside_root",
                "message": f"path {path!r} is outside the server root",
            }
        r = await approve(api, {"path": "agents/missing.ipynb", "name": "publish", "approve": True})
        assert (r.code, body(r)["code"]) == (404, "not_found")
        assert k.store.approval("publish").status == "pending"
    finally:
        k.close()
