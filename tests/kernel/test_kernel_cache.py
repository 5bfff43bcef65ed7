"""Cache hits in a fresh kernel: values that depend on each other, and a checkpoint that
turns out unusable half-way."""

from __future__ import annotations

from pathlib import Path

from ..kernels import Kernel
from ..messages import RESTORED, UNUSABLE

CLASS_STEP = """%%mn_step shapes
class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y
    def norm2(self):
        return self.x ** 2 + self.y ** 2
p = Point(3, 4)
"""


def test_cache_hit_restores_class_and_its_instance_in_fresh_kernel(kernel: Kernel) -> None:
    kernel.run(CLASS_STEP)
    kernel.restart()
    kernel.run("%load_ext mirrorneuron_nb")
    hit = kernel.run(CLASS_STEP)
    assert RESTORED in hit.notes, hit.text
    out = kernel.run("print(isinstance(p, Point), p.norm2())")
    assert out.stdout.strip() == "True 25"


def test_unusable_checkpoint_leaves_namespace_untouched_and_runs(
    kernel: Kernel, workdir: Path
) -> None:
    step = "%%mn_step s\nimport numpy as np\nz = np.ones(100_000)\nlog.append('ran')\n"
    kernel.run("log = []")
    kernel.run(step)
    blobs = sorted(
        (workdir / "mirrorneuron.mn" / "blobs").rglob("*"),
        key=lambda p: p.stat().st_size if p.is_file() else 0,
    )
    big = blobs[-1]
    data = bytearray(big.read_bytes())
    data[100] ^= 0xFF
    big.write_bytes(bytes(data))
    kernel.run("log = []")  # same input as the first run: the key matches the checkpoint
    again = kernel.run(step)
    assert UNUSABLE in again.stderr and "corrupted" in again.stderr
    # `log` (restored first) was rolled back before the body ran: it appended once only.
    assert kernel.run("print(log)").stdout.strip() == "['ran']"
