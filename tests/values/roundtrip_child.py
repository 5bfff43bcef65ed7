"""A "kernel" for the fingerprint round-trip tests: run as a child process.

    python roundtrip_child.py make OUT            run every case, fingerprint and save its values
    python roundtrip_child.py reload IN OUT       load IN in this (new) process, fingerprint,
                                                  check, and save again into OUT

Each case is notebook code run in its own namespace whose `__name__` is `__main__`, so the
classes and functions it defines are notebook-defined. Results: OUT/result.json, as
{case: {"fps": {var: fingerprint}, "missing": [...], "check": bool | error, "error": ...}}.
"""

from __future__ import annotations

import builtins
import json
import pickle
import sys
import traceback
from pathlib import Path
from typing import Any

from mirrorneuron_nb.errors import NotCheckpointable
from mirrorneuron_nb.store.blobs import BlobStore
from mirrorneuron_nb.values import codec
from mirrorneuron_nb.values.fingerprint import fingerprint
from mirrorneuron_nb.values.restore import load_into
from mirrorneuron_nb.values.serializers import snapshot
from mirrorneuron_nb.values.signing import Binding

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from roundtrip_cases import CASES  # noqa: E402

PLACE = Binding("roundtrip", "step", "")


def new_namespace() -> dict[str, Any]:
    return {"__name__": "__main__", "__builtins__": builtins}


def user_names(ns: dict[str, Any]) -> list[str]:
    return sorted(n for n in ns if not n.startswith("_"))


def save_all(out: Path, namespaces: dict[str, dict[str, Any]], result: dict[str, Any]) -> None:
    blobs = BlobStore(out / "blobs")
    entries: dict[str, list[Any]] = {}
    for case, ns in namespaces.items():
        entries[case] = []
        fps: dict[str, str] = result[case].setdefault("fps", {})
        for name in user_names(ns):
            value = ns[name]
            fps[name] = fingerprint(value)
            try:
                entry, _ = codec.save(blobs, PLACE.at(name), snapshot(value), fps[name])
            except NotCheckpointable as exc:
                entry = codec.unsaved(name, type(value).__name__, str(exc))
            entries[case].append(entry)
    (out / "entries.pkl").write_bytes(pickle.dumps(entries))
    (out / "result.json").write_text(json.dumps(result, indent=1, sort_keys=True))


def make(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    namespaces: dict[str, dict[str, Any]] = {}
    result: dict[str, Any] = {}
    for case, (code, _check) in CASES.items():
        ns = new_namespace()
        ns["WORKDIR"] = str(out)
        result[case] = {}
        try:
            # dont_inherit: not this module's `from __future__ import annotations` (the
            # "annotations" case opts in, as a notebook cell can)
            exec(compile(code, f"<{case}>", "exec", dont_inherit=True), ns)
        except Exception:
            result[case]["error"] = traceback.format_exc()
            continue
        del ns["WORKDIR"]
        namespaces[case] = ns
    save_all(out, namespaces, result)


def reload(src: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    entries = pickle.loads((src / "entries.pkl").read_bytes())
    blobs = BlobStore(src / "blobs")
    namespaces: dict[str, dict[str, Any]] = {}
    result: dict[str, Any] = {}
    for case, case_entries in entries.items():
        ns = new_namespace()
        loaded = load_into(
            ns, case_entries, blobs, lambda v: PLACE.at(v.name), all_or_nothing=False
        )
        result[case] = {"missing": [f"{m.name}: {m.reason}" for m in loaded.missing]}
        check = CASES[case][1]
        try:
            result[case]["check"] = bool(eval(check, ns)) if check else True
        except Exception as exc:
            result[case]["check"] = f"{type(exc).__name__}: {exc}"
        namespaces[case] = ns
    save_all(out, namespaces, result)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(Path(sys.argv[2]))
    else:
        reload(Path(sys.argv[2]), Path(sys.argv[3]))
