"""Write-behind: a step producing a 200 MB array, then a plain cell that does not touch it.

Two code trees side by side in ONE driver process, repetitions interleaved (old, new,
old, new...): each gets its own real kernel with that tree first on PYTHONPATH.

    .venv/bin/python benchmarks/bench_writebehind.py --old /work/main --new . --runs 5
    ... --blobs file:///tmp/mn-blobs   # blobs at an fsspec URL (each tree its own prefix)

Per repetition and tree (times from the driver, execute request to idle):
  plain    `a = rng.standard_normal(N)` as a plain cell (the body alone)
  step     the same body as `%%mn_step` (a fresh seed each time: new bytes to write)
  next     a plain cell `x = 1` right after it (does not touch `a`)
  settle   `%mn_status` right after: until every checkpoint is durable (old: nothing left)
  hooks    inside the kernel, nothing pending: every pre_run_cell + post_run_cell hook
           (the read barrier's among them) for a plain cell `x = 1`, per cell, the mean
           of HOOK_CELLS triggers (what a plain cell pays for the extension)
  extra    peak memory of the kernel during the checkpoint beyond its RSS when the body
           ended (VmHWM after /proc/self/clear_refs), against the bytes written
Reports medians and the ratios new/old. It asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_core import hermetic_env
from jupyter_client.manager import KernelManager

MARK = "__WB__"
HOOK_CELLS = 2000
HOOKS = f"""import time as _t
from IPython.core.interactiveshell import ExecutionInfo as _EI, ExecutionResult as _ER
_ip = get_ipython()
_info = _EI("x = 1", False, False, True, None)
_res = _ER(_info)
_began = _t.perf_counter()
for _ in range({HOOK_CELLS}):
    _ip.events.trigger("pre_run_cell", _info)
    _ip.events.trigger("post_run_cell", _res)
print("{MARK}" + str((_t.perf_counter() - _began) / {HOOK_CELLS}))
del _t, _EI, _ER, _ip, _info, _res, _began
"""


class Kernel:
    def __init__(self, tree: Path, cwd: Path, home: Path, blobs: str | None = None) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(tree),
            **hermetic_env(home),
            "MIRRORNEURON_SIDECAR": str(cwd / "nb.mn"),
        }
        if blobs is not None:
            env["MIRRORNEURON_BLOBS"] = blobs
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=str(cwd), env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)

    def run(self, code: str) -> tuple[float, str]:
        out: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                raise RuntimeError(f"{msg['content']['ename']}: {msg['content']['evalue']}")

        began = time.perf_counter()
        self.kc.execute_interactive(code, output_hook=hook, timeout=900)
        return time.perf_counter() - began, "".join(out)

    def shutdown(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=False)


def status_kb(field: str) -> str:
    return f"int(next(l for l in open('/proc/self/status') if l.startswith('{field}:')).split()[1])"


def repetition(k: Kernel, seed: int, n: int) -> dict[str, float]:
    body = f"import numpy as np\na = np.random.default_rng({seed}).standard_normal({n})\n"
    plain, _ = k.run(body)
    k.run("del a\nimport gc; gc.collect()")
    # The body ends by resetting the peak-RSS mark: what follows is the checkpoint's.
    mark = (
        f"_rss0 = {status_kb('VmRSS')}\n"
        "with open('/proc/self/clear_refs', 'w') as _f:\n    _f.write('5')\n"
    )
    step, _ = k.run(f"%%mn_step big --force\n{body}{mark}del _f\n")
    nxt, _ = k.run("x = 1")
    settle, _ = k.run("%mn_status")
    _, printed = k.run(f"print('{MARK}' + str({status_kb('VmHWM')} - _rss0))")
    extra = int(printed.split(MARK)[1]) * 1024
    _, printed = k.run(HOOKS)
    hooks = float(printed.split(MARK)[1])
    return {
        "plain": plain,
        "step": step,
        "next": nxt,
        "settle": settle,
        "extra": extra,
        "hooks": hooks,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="the code tree before")
    parser.add_argument("--new", type=Path, required=True, help="the code tree after")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--n", type=int, default=25_000_000, help="float64 elements")
    parser.add_argument("--blobs", help="an fsspec URL for the blobs (MIRRORNEURON_BLOBS)")
    args = parser.parse_args()
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    results: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory(prefix="bench-wb-") as scratch:
        kernels = {}
        for label, tree in trees.items():
            work = Path(scratch) / label
            work.mkdir()
            blobs = f"{args.blobs.rstrip('/')}/{label}" if args.blobs else None
            kernels[label] = Kernel(tree, work, Path(scratch) / f"home-{label}", blobs)
            kernels[label].run("%load_ext mirrorneuron_nb")
        try:
            for k in kernels.values():  # first steps import and allocate: not counted
                repetition(k, 999, args.n)
            for i in range(args.runs):
                for label in ("old", "new") if i % 2 == 0 else ("new", "old"):
                    results[label].append(repetition(kernels[label], 1000 + i, args.n))
                    print(label, json.dumps(results[label][-1]), file=sys.stderr)
        finally:
            for k in kernels.values():
                k.shutdown()
    nbytes = args.n * 8
    where = f"blobs at {args.blobs}" if args.blobs else "local blobs"
    print(f"{args.runs} runs each, interleaved; {nbytes / 1e6:.0f} MB array; {where}; medians:")
    print(f"{'':8} {'old':>10} {'new':>10} {'new/old':>8}")
    for key in ("plain", "step", "next", "settle"):
        old = statistics.median(r[key] for r in results["old"])
        new = statistics.median(r[key] for r in results["new"])
        print(f"{key:8} {old * 1000:8.1f}ms {new * 1000:8.1f}ms {new / old:8.2f}")
    old = statistics.median(r["hooks"] for r in results["old"])
    new = statistics.median(r["hooks"] for r in results["new"])
    print(f"{'hooks':8} {old * 1e6:8.1f}us {new * 1e6:8.1f}us {new / old:8.2f}")
    for label in ("old", "new"):
        extra = statistics.median(r["extra"] for r in results[label])
        print(
            f"peak extra memory during the checkpoint, {label}: {extra / 1e6:.1f} MB "
            f"({extra / nbytes:.2f}x the bytes written)"
        )
    for label in ("old", "new"):
        over = statistics.median(r["step"] - r["plain"] for r in results[label])
        print(f"step over plain body, {label}: +{over * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
