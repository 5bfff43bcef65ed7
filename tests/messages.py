"""Wording of user-facing messages that several tests match on: one constant each, so a
rewording changes one line here (and the tests say which message they expect)."""

from typing import Any

RESTORED = "restored from checkpoint"
"""The banner of a step served from its checkpoint."""
UNTRUSTED = "not signed with this user's key"
"""Why a value signed with another user's key is not loaded."""
UNUSABLE = "checkpoint unusable"
"""A cache hit whose checkpoint could not be loaded: the step runs instead."""
NO_SIDECAR_YET = "no sidecar yet"
"""A notebook none of whose steps ran."""


def output_text(output: dict[str, Any]) -> str:
    """An nbformat output's text: a stream's, or a display's text/plain (the banner)."""
    data = output.get("data") or {}
    return str(output.get("text", "") or data.get("text/plain", ""))
