"""A value's fingerprint survives a checkpoint round trip into a new process (guarantee 7).

roundtrip_child.py runs each case of roundtrip_cases.py as notebook code in one process,
saves every value through codec.save, then a second process (another hash seed: a
restarted kernel) loads them with codec.load, fingerprints and saves them again, and a
third process does it once more. Every value must fingerprint the same in all three.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .roundtrip_cases import CASES, REQUIRES

CHILD = Path(__file__).with_name("roundtrip_child.py")


def _child(args: list[str], seed: str, env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(CHILD), *args],
        env={**env, "PYTHONHASHSEED": seed},
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def generations(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    root = tmp_path_factory.mktemp("roundtrip")
    env = {**os.environ, "MIRRORNEURON_KEY_FILE": str(root / "signing.key")}
    _child(["make", str(root / "g0")], "1", env, root)
    _child(["reload", str(root / "g0"), str(root / "g1")], "2", env, root)
    _child(["reload", str(root / "g1"), str(root / "g2")], "3", env, root)
    return [json.loads((root / g / "result.json").read_text()) for g in ("g0", "g1", "g2")]


@pytest.mark.parametrize("case", list(CASES))
def test_fingerprint_survives_a_round_trip_into_a_new_process(
    generations: list[dict[str, Any]], case: str
) -> None:
    for module in REQUIRES.get(case, ()):
        pytest.importorskip(module)
    made, first, second = (g[case] for g in generations)
    assert "error" not in made, made.get("error")
    assert first["missing"] == [] and second["missing"] == []
    assert first["check"] is True and second["check"] is True
    assert made["fps"], "the case defined no variable"
    unhashable = [n for n, fp in made["fps"].items() if fp.startswith("unhashable:")]
    assert unhashable == []
    changed = {
        name: (fp, first["fps"].get(name), second["fps"].get(name))
        for name, fp in made["fps"].items()
        if not fp == first["fps"].get(name) == second["fps"].get(name)
    }
    assert changed == {}


@pytest.mark.parametrize("size", ["large", "small"])
def test_the_same_array_twice_fingerprints_like_two_equal_copies(
    generations: list[dict[str, Any]], size: str
) -> None:
    for gen in generations:
        assert gen[f"shared_{size}"]["fps"]["v"] == gen[f"copies_{size}"]["fps"]["v"]
