"""`mn-nb doctor --rebuild`: a new sidecar database from the manifest log.

Every commit also appends its rows to the manifest log (store/manifest.py). When the
database is lost or damaged, the manifests signed with this user's key for this sidecar
are read back into a new database: each step's newest such checkpoint becomes current.
What only the database held is not recovered: run history, attempts, events, approvals,
durable-call journals of unfinished steps and steps that never checkpointed.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import SidecarDamaged, SigningKeyError, UsageFailure
from ..models import VarEntry
from ..store.guard import DB_NAME
from ..store.manifest import Manifest, read_log
from ..store.rebuild import Rebuilt, rebuild_database
from ..values.signing import check_key, checkpoint_untrusted


@dataclass
class ManifestSurvey:
    found: int = 0
    usable: list[Manifest] = field(default_factory=list)
    """Signed with this user's key for the sidecar most of them belong to."""
    unsigned: int = 0
    """Readable, but not signed with this user's key (another user's, or altered)."""
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    """(which line of the log, why) for lines that cannot be used."""
    sidecar_id: str | None = None
    key_problem: str | None = None

    @property
    def steps(self) -> list[str]:
        ordered = sorted(self.usable, key=lambda m: (m.step.get("position") or 0, m.step["name"]))
        return list(dict.fromkeys(str(m.step["name"]) for m in ordered))

    def as_json(self) -> dict[str, Any]:
        return {
            "found": self.found,
            "usable": len(self.usable),
            "unsigned": self.unsigned,
            "unreadable": [{"where": k, "problem": why} for k, why in self.unreadable],
            "steps": self.steps,
            "key_problem": self.key_problem,
        }


def survey(sidecar: Path) -> ManifestSurvey:
    """Read and verify every manifest in the sidecar's blobs (nothing is written)."""
    result = ManifestSurvey()
    try:
        check_key()
    except SigningKeyError as exc:
        result.key_problem = str(exc)
    signed: list[tuple[str, Manifest]] = []
    log = read_log(sidecar)
    result.unreadable = log.unreadable
    for item in log.manifests:
        result.found += 1
        sidecar_id = item.meta.get("sidecar_id")
        if result.key_problem is None and isinstance(sidecar_id, str) and _verifies(item):
            signed.append((sidecar_id, item))
        else:
            result.unsigned += 1
    if signed:
        # Manifests copied in from another sidecar verify for theirs, not for this one.
        result.sidecar_id = Counter(s for s, _ in signed).most_common(1)[0][0]
        result.usable = [m for s, m in signed if s == result.sidecar_id]
        result.unsigned += len(signed) - len(result.usable)
    return result


def rebuild(sidecar: Path, survey_: ManifestSurvey | None, database_healthy: bool) -> Rebuilt:
    """Replace the sidecar's database with one built from the usable manifests (the
    survey doctor made when it found the database unhealthy)."""
    if database_healthy or survey_ is None:
        raise UsageFailure(f"the database of {sidecar} is intact: there is nothing to rebuild")
    if survey_.key_problem is not None:
        raise SigningKeyError(survey_.key_problem)
    if not survey_.usable or survey_.sidecar_id is None:
        raise SidecarDamaged(
            f"{sidecar} holds no checkpoint manifest signed with your key "
            f"({survey_.found} found): nothing to rebuild the database from"
        )
    return rebuild_database(sidecar / DB_NAME, survey_.usable, {"sidecar_id": survey_.sidecar_id})


def _verifies(m: Manifest) -> bool:
    ckpt = m.checkpoint
    try:
        outputs = json.loads(ckpt["outputs"])
        entries = [_entry(row) for row in m.variables]
        why = checkpoint_untrusted(
            ckpt.get("signature"),
            str(m.meta["sidecar_id"]),
            str(ckpt["step"]),
            str(ckpt["cache_key"]),
            str(ckpt["code_hash"]),
            outputs,
            entries,
        )
    except (KeyError, TypeError, ValueError, ValidationError):
        return False
    return why is None


def _entry(row: dict[str, Any]) -> VarEntry:
    fields = {k: v for k, v in row.items() if k in VarEntry.model_fields}
    fields["buffers"] = [tuple(b) for b in json.loads(row.get("buffers") or "[]")]
    return VarEntry.model_validate(fields)
