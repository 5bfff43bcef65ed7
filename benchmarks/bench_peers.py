"""Peers benchmark: bench_core's researcher notebook, checkpointed five ways, side by side.

Run from the repository root (dill and Kishu are benchmark-only dependencies, not the
project's; Kishu goes into its own directory so its pins cannot touch .venv):

    .venv/bin/pip install dill
    .venv/bin/pip install --no-deps --target /tmp/kishu-site kishu==0.3.4 Flask Werkzeug \\
        blinker itsdangerous flask-cors ipylab jupyter-ui-poll loguru dataclasses-json \\
        "marshmallow==3.26.2" typing-inspect mypy_extensions networkx rich markdown-it-py \\
        mdurl shortuuid typer shellingham annotated-doc
    .venv/bin/python benchmarks/bench_peers.py               # full sizes, 3 runs
    .venv/bin/python benchmarks/bench_peers.py --quick       # small sizes, 1 run
    .venv/bin/python benchmarks/bench_peers.py --kishu-site DIR --no-kishu --json FILE

(`pip install kishu` into .venv would also install the `dataclasses` and `typing` PyPI
backports; hence the separate --target directory, put on the Kishu kernels' PYTHONPATH.)

The same five cells as bench_core.py (a 200 MB array, a 2M-row DataFrame + groupby, 300k
dicts, a slow API call, an in-place mutation), each side in its own real kernel:

  plain   the cells, nothing else (re-execution is the "restore" of this side)
  pickle  the plain kernel then pickles exactly the live variables (protocol 5) + fsync:
          the lower bound; restore = pickle.load in a fresh kernel
  dill    the plain kernel then runs dill.dump_session(FILE); restore = dill.load_session
  kishu   Kishu 0.3.4 driven headless in the kernel: `init_kishu(NB)` before the cells
          (it then commits after every cell), restore = `_kishu.checkout(COMMIT)` in a
          fresh kernel after `init_kishu(NB)`. ENV_KISHU_TEST_MODE=1 and
          TEST_NOTEBOOK_PATH=NB make it run without a Jupyter server / frontend (its own
          test mode: no notebook autosave, kernel id "test_kernel_id")
  ours    every cell a `%%mn_step` (fresh sidecar); restore = %mn_resume in a fresh kernel

Reported: run time (sum of the cells' client round trips, plus the explicit dump for
pickle/dill), checkpoint size on disk, restore time timed inside the fresh kernel (warm
page cache) and with touching all data, and whether a checksum over every value equals the
plain kernel's. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import (
    DATA_VARS,
    SIZES,
    TIMED_TOUCH,
    TOUCH,
    Bench,
    Kernel,
    emit,
    machine,
    timed_in_kernel,
    tree_size,
)

SIDES = ["plain", "pickle", "dill", "kishu", "ours"]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Peers(Bench):
    def __init__(self, sz: dict[str, Any], root: Path, kishu_site: Path | None) -> None:
        super().__init__(sz, root, cold=False)
        self.kishu_site = kishu_site

    def kishu_kernel(self, nb: Path) -> Kernel:
        extra = {
            "PYTHONPATH": str(self.kishu_site),
            "ENV_KISHU_TEST_MODE": "1",
            "TEST_NOTEBOOK_PATH": str(nb),
            "KISHU_PATH_ROOT": str(self.root / "home" / "kishu"),
        }
        k = Kernel(nb.parent, {**self.env, **extra}, self.root / "kernels.log")
        self.live.append(k)
        return k

    # -- running the notebook ---------------------------------------------------------------

    def run_plain(self, rec: dict[str, Any], base: Path) -> None:  # type: ignore[override]
        k = self.kernel()
        k.warm_up(self.sz["warm_bytes"])
        rec["plain_run"] = sum(k.run(code).seconds for _, code in self.cells)
        rec["checksum"] = k.run(emit(f"{{'c': {TOUCH}}}")).bench()["c"]
        pkl, dll = base / "state.pkl", base / "session.dill"
        # dill first: the session then holds the notebook's variables (and the driver's
        # small helpers), not the pickle side's file object.
        k.warm_up(self.sz["warm_bytes"])
        rec["dill_dump"] = k.run(
            timed_in_kernel(
                "import dill, os, warnings",
                "with warnings.catch_warnings():\n"
                "    warnings.simplefilter('ignore')\n"
                f"    dill.dump_session({str(dll)!r})\n"
                f"_fd = os.open({str(dll)!r}, os.O_RDONLY); os.fsync(_fd); os.close(_fd)",
            )
        ).bench()["s"]
        rec["dill_bytes"] = dll.stat().st_blocks * 512
        others = [v for v in DATA_VARS if v != "arr"]
        rec["unique_bytes"] = k.run(
            "import pickle as _pk\n"
            f"_u = 2 * arr.nbytes + sum(len(_pk.dumps(globals()[_v], protocol=5)) for _v in "
            f"{others!r})\n" + emit("{'u': _u}")
        ).bench()["u"]
        k.warm_up(self.sz["warm_bytes"])
        rec["pickle_dump"] = k.run(
            timed_in_kernel(
                "import pickle, os",
                f"with open({str(pkl)!r}, 'wb') as _f:\n"
                f"    pickle.dump({{_v: globals()[_v] for _v in {DATA_VARS!r}}}, _f, protocol=5)\n"
                "    _f.flush(); os.fsync(_f.fileno())",
            )
        ).bench()["s"]
        rec["pickle_bytes"] = pkl.stat().st_blocks * 512
        self.close(k)

    def run_ours(self, rec: dict[str, Any], sidecar: Path) -> None:
        k = self.kernel(sidecar, mn=True)
        k.warm_up(self.sz["warm_bytes"])
        rec["ours_run"] = sum(
            k.run(f"%%mn_step {name}\n{code}").seconds for name, code in self.cells
        )
        rec["ours_bytes"] = tree_size(sidecar)[0]
        self.close(k)

    def run_kishu(self, rec: dict[str, Any], nb: Path) -> None:
        k = self.kishu_kernel(nb)
        k.warm_up(self.sz["warm_bytes"])
        # init_kishu registers post_run_cell inside this cell: call pre_run_cell by hand so
        # the hook pair is complete (this cell becomes Kishu's first, untimed commit).
        k.run(f"from kishu import init_kishu\ninit_kishu({str(nb)!r}); _kishu.pre_run_cell(None)")
        k.warm_up(self.sz["warm_bytes"])
        rec["kishu_run"] = sum(k.run(code).seconds for _, code in self.cells)
        rec["kishu_commit"] = k.run(
            emit("{'c': _kishu._kishu_branch.get_head().commit_id}")
        ).bench()["c"]
        self.close(k)
        rec["kishu_bytes"] = sum(
            p.stat().st_blocks * 512 for p in nb.parent.iterdir() if ".kishudb" in p.name
        )

    # -- restoring in fresh kernels ---------------------------------------------------------

    def restore(self, side: str, rec: dict[str, Any], base: Path) -> dict[str, Any]:
        if side == "ours":
            return self.fresh_resume(base / "notebook.mn", cold=False)
        if side == "pickle":
            return self.fresh_pickle_load(base / "state.pkl", cold=False)
        if side == "dill":
            k = self.kernel()
            before = "import dill, warnings, numpy as np, pandas as pd, time"
            body = (
                "with warnings.catch_warnings():\n"
                "    warnings.simplefilter('ignore')\n"
                f"    dill.load_session({str(base / 'session.dill')!r})"
            )
        else:
            nb = base / "nb.ipynb"
            k = self.kishu_kernel(nb)
            k.run(
                f"from kishu import init_kishu\ninit_kishu({str(nb)!r}); _kishu.pre_run_cell(None)"
            )
            before = "import numpy as np, pandas as pd, time"
            body = f"_ko = _kishu.checkout({rec['kishu_commit']!r})"
        k.warm_up(self.sz["warm_bytes"])
        # The restored session brings back the dumping kernel's own `_b0` (the timer's start,
        # from timed_in_kernel): keep ours across the restore.
        body = f"_peers_b0 = _b0\n{body}\n_b0 = _peers_b0"
        out = k.run(timed_in_kernel(before, body, TIMED_TOUCH))
        res = out.bench()
        res["round_trip"] = out.seconds
        self.close(k)
        return res

    def repetition(self, i: int, sides: list[str]) -> dict[str, Any]:  # type: ignore[override]
        rec: dict[str, Any] = {}
        base = self.root / f"rep{i}"
        base.mkdir()
        nb = nbformat.v4.new_notebook()
        nb.cells.extend(nbformat.v4.new_code_cell(code) for _, code in self.cells)
        nbformat.write(nb, base / "nb.ipynb")
        runs = ["plain", "ours", "kishu"]
        runs = runs[i % 3 :] + runs[: i % 3]  # rotate: drift in the VM favours no side
        for side in runs:
            if side == "kishu" and "kishu" not in sides:
                continue
            log(f"run {i + 1}: notebook, {side}")
            try:
                if side == "plain":
                    self.run_plain(rec, base)
                elif side == "ours":
                    self.run_ours(rec, base / "notebook.mn")
                else:
                    self.run_kishu(rec, base / "nb.ipynb")
            except RuntimeError as exc:
                log(f"  {side} failed: {str(exc)[:500]}")
                rec[f"{side}_error"] = str(exc)[:2000]
                self.close_all()
        order = [s for s in SIDES if s != "plain" and s in sides]
        order = order[i % len(order) :] + order[: i % len(order)]
        for side in order:
            if rec.get(f"{side}_error") or (side in ("pickle", "dill") and "plain_error" in rec):
                continue
            log(f"run {i + 1}: restore, {side}, fresh kernel")
            try:
                res = self.restore(side, rec, base)
            except RuntimeError as exc:
                log(f"  {side} restore failed: {str(exc)[:500]}")
                rec[f"{side}_restore_error"] = str(exc)[:2000]
                self.close_all()
                continue
            rec[f"{side}_restore"] = res["s"]
            rec[f"{side}_restore_touch"] = res["s"] + res["touch"]
            rec[f"{side}_ok"] = abs(res["checksum"] - rec["checksum"]) <= 1e-9 * max(
                1.0, abs(rec["checksum"])
            )
        shutil.rmtree(base, ignore_errors=True)
        return rec


def fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def fmt_b(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x / 1e6:.1f} MB"


def report(recs: list[dict[str, Any]], sides: list[str]) -> None:
    def m(key: str) -> float | None:
        vals = [r[key] for r in recs if key in r]
        return statistics.median(vals) if vals else None

    plain = m("plain_run")
    unique = m("unique_bytes")
    pick_restore = m("pickle_restore")
    run = {
        "plain": plain,
        "pickle": (plain or 0) + (m("pickle_dump") or 0) if plain else None,
        "dill": (plain or 0) + m("dill_dump") if plain and m("dill_dump") is not None else None,
        "kishu": m("kishu_run"),
        "ours": m("ours_run"),
    }
    size = {
        "plain": None,
        "pickle": m("pickle_bytes"),
        "dill": m("dill_bytes"),
        "kishu": m("kishu_bytes"),
        "ours": m("ours_bytes"),
    }
    print(f"\nmedian of {len(recs)} run(s); ratios vs plain run, pickle.load, unique bytes")
    print(
        f"unique bytes: {fmt_b(unique)}; plain checksum identical across runs: "
        f"{len({r.get('checksum') for r in recs}) == 1}"
    )
    head = (
        f"{'side':<8} {'run time':>9} {'x plain':>8} {'size':>10} {'x unique':>9} "
        f"{'restore':>9} {'x pickle':>9} {'+touch':>9} {'values ok':>10}"
    )
    print(head)
    for side in SIDES:
        if side not in sides:
            continue
        if side == "plain":
            restore = plain  # re-execution
            touch = None
            ok = "-"
        else:
            restore, touch = m(f"{side}_restore"), m(f"{side}_restore_touch")
            oks = [r[f"{side}_ok"] for r in recs if f"{side}_ok" in r]
            ok = f"{sum(oks)}/{len(oks)}" if oks else "-"
        r, s = run[side], size[side]
        print(
            f"{side:<8} {fmt_s(r):>9} "
            f"{(f'{r / plain:.2f}x' if r and plain else '-'):>8} {fmt_b(s):>10} "
            f"{(f'{s / unique:.2f}x' if s and unique else '-'):>9} {fmt_s(restore):>9} "
            f"{(f'{restore / pick_restore:.2f}x' if restore and pick_restore else '-'):>9} "
            f"{fmt_s(touch):>9} {ok:>10}"
        )
    for r in recs:
        for key, value in r.items():
            if key.endswith("_error"):
                print(f"  {key}: {value[:400]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, 1 run")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--kishu-site", type=Path, default=Path("/tmp/kishu-site"))
    ap.add_argument("--no-kishu", action="store_true")
    ap.add_argument("--no-dill", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    runs = args.runs or (1 if args.quick else 3)
    sz = {k: v[1 if args.quick else 0] for k, v in SIZES.items()}
    sides = list(SIDES)
    if args.no_kishu or not (args.kishu_site / "kishu").is_dir():
        sides.remove("kishu")
        if not args.no_kishu:
            log(f"no Kishu in {args.kishu_site}: skipped (see the install line in the docstring)")
    if args.no_dill:
        sides.remove("dill")
    print(json.dumps(machine()))
    print("load average:", Path("/proc/loadavg").read_text().split()[:3])
    root = Path(tempfile.mkdtemp(prefix="mn-bench-peers-"))
    os.environ.setdefault("PYTHONHASHSEED", "0")
    bench = Peers(sz, root, args.kishu_site)
    recs: list[dict[str, Any]] = []
    try:
        for i in range(runs):
            recs.append(bench.repetition(i, sides))
            print(json.dumps(recs[-1], default=str), flush=True)
    finally:
        bench.close_all()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    report(recs, sides)
    if args.json:
        args.json.write_text(json.dumps(recs, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
