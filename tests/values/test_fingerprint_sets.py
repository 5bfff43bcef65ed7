"""The canonical form of values holding sets: the cheap pass stops at the first exact set
(only the pass that orders sets finishes), and fingerprints stay what they were."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from mirrorneuron_nb.values.fingerprint import fingerprint

CASES = textwrap.dedent(
    """\
    def cases():
        dicts = [{"id": i, "name": f"n{i}", "v": i * 0.5, "ok": i % 3 == 0} for i in range(2000)]
        return {
            "dicts": dicts,
            "late set": [*dicts, {"tags": {"b", "a", "c"}}],
            "early set": [{"tags": frozenset({3, 1, 2})}, *dicts],
            "nested": {"k": [{"s": {("a", 1), ("b", 2)}}], "n": None},
            "set of frozensets": {frozenset({1, 2}), frozenset({"x"})},
        }
    """
)

# Taken by the version before the cheap pass stopped early (commit d829027), in processes
# with PYTHONHASHSEED 1 and 2: stored checkpoints keep matching.
BEFORE = {
    "dicts": "4aad1cae81c99d008325f553bfed8774",
    "late set": "7ed5d15a80ea4a953c6c56f30f51d75a",
    "early set": "505de96cc761e733bce8b7b4415b77e9",
    "nested": "88e04705fb9170e225e339b3796f7444",
    "set of frozensets": "cc5fb1bb25fb16c1eee8128feab0e997",
}


def test_fingerprints_of_dicts_and_sets_are_unchanged_in_every_process() -> None:
    script = CASES + (
        "from mirrorneuron_nb.values.fingerprint import fingerprint\n"
        "import json\nprint(json.dumps({k: fingerprint(v) for k, v in cases().items()}))\n"
    )
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
        )
        assert json.loads(out.stdout) == BEFORE
    found: dict[str, object] = {}
    exec(CASES, found)
    assert {k: fingerprint(v) for k, v in found["cases"]().items()} == BEFORE  # type: ignore[operator]


class Counted:
    """Counts how often a fingerprint pass reaches it."""

    reduced = 0

    def __init__(self, payload: list[dict[str, int]]) -> None:
        self.payload = payload

    def __reduce__(self) -> tuple[object, ...]:
        Counted.reduced += 1
        return (Counted, (self.payload,))


def test_the_cheap_pass_stops_at_the_first_set() -> None:
    after = Counted([{"i": i} for i in range(100)])
    Counted.reduced = 0
    with_set = fingerprint([{"tags": {"x", "y"}}, after])
    assert Counted.reduced == 1  # only the pass that orders sets got past the set
    Counted.reduced = 0
    without = fingerprint([{"tags": ["x", "y"]}, after])
    assert Counted.reduced == 1 and without != with_set
