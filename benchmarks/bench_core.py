"""Core benchmark: a researcher's notebook run with every cell a `%%mn_step` vs plain.

Run from the repository root:

    .venv/bin/python benchmarks/bench_core.py            # full sizes, median of 3 runs
    .venv/bin/python benchmarks/bench_core.py --runs 5
    .venv/bin/python benchmarks/bench_core.py --quick    # small sizes, 1 run (smoke check)

Every measurement runs in real IPython kernels (jupyter_client), side by side, and is
reported as a ratio against a baseline. Nothing here asserts: targets are printed next
to the figures as "met" / "MISSED".

Phases (see benchmarks/README.md for what each number means):
  a. total run time: every cell a step (fresh sidecar) vs the same cells plain
  b. %mn_resume in a fresh kernel vs pickle.load (protocol 5) of the same variables in a
     fresh kernel (both timed inside the kernel), plus touching all data; warm page cache
     and, when /proc/sys/vm/drop_caches is writable, cold
  c. trivial step overhead: `%%mn_step tN\\nx = 1` vs `x = 1`
  d. sidecar size vs unique bytes checkpointed; growth on `--force` of the array step

Memory: these VMs hand idle guest memory back to the host (virtio-balloon free page
reporting), so the first touch of freshly allocated memory can cost ~10x more than a
normal page fault. Each kernel allocates, touches and frees a large array right before
a timed phase ("warm-up") so both sides start from the same state.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager

MARK = "__BENCH__"
REPO = Path(__file__).resolve().parent.parent

# name -> (full, quick)
SIZES: dict[str, tuple[Any, Any]] = {
    "n_arr": (25_000_000, 2_000_000),  # float64: 200 MB / 16 MB
    "n_rows": (2_000_000, 200_000),
    "n_records": (300_000, 20_000),
    "sleep": (3.0, 0.3),
    "trivial": (200, 30),
    "warm_bytes": (2 << 30, 256 << 20),
}

# The variables the notebook leaves behind (modules excluded: both sides re-import them).
DATA_VARS = ["arr", "rng", "n", "df", "agg", "records", "result"]

TARGETS = {
    "run": 1.3,
    "resume": 1.5,
    "trivial_ms": 2.0,
    "size": 1.1,
    "force_growth": 1 << 20,
}


def notebook_cells(sz: dict[str, Any]) -> list[tuple[str, str]]:
    n_arr, n_rows, n_records, sleep = sz["n_arr"], sz["n_rows"], sz["n_records"], sz["sleep"]
    return [
        (
            "load",
            f"""\
import numpy as np
rng = np.random.default_rng(42)
arr = rng.standard_normal({n_arr})
""",
        ),
        (
            "frame",
            f"""\
import pandas as pd
n = {n_rows}
df = pd.DataFrame({{
    "x": arr[:n],
    "y": arr[n:2 * n] * 10 + 5,
    "z": np.abs(arr[2 * n:3 * n]),
    "key": (np.abs(arr[3 * n:4 * n]) * 1e6).astype(np.int64) % 1000,
}})
agg = df.groupby("key").agg({{"x": ["mean", "std"], "y": "sum", "z": "max"}})
""",
        ),
        (
            "records",
            f"""\
records = [
    {{"id": i, "user": f"user{{i % 1000}}", "score": i * 0.5, "ok": i % 3 == 0}}
    for i in range({n_records})
]
""",
        ),
        (
            "api",
            f"""\
import time
time.sleep({sleep})  # a slow API call
result = {{"model": "demo-1", "answer": 42, "tokens": [101, 2023, 2003, 102]}}
""",
        ),
        ("mutate", "arr *= 2\n"),
    ]


# Reads every value completely (mmap'd arrays are lazy) and returns a checksum.
TOUCH = """\
float(arr.sum()) + float(df.sum().sum()) + float(agg.to_numpy().sum()) \
+ sum(r["score"] for r in records) + len(result) + n"""


# -- a real kernel ------------------------------------------------------------------------


@dataclass
class Execution:
    stdout: str = ""
    stderr: str = ""
    error: dict[str, Any] | None = None
    seconds: float = 0.0
    """Client round trip: execute_request sent -> idle status received."""

    def bench(self) -> dict[str, Any]:
        for line in self.stdout.splitlines():
            if line.startswith(MARK):
                return dict(json.loads(line[len(MARK) :]))
        raise RuntimeError(f"no {MARK} line in output:\n{self.stdout}\n{self.stderr}")


class Kernel:
    """An ipykernel driven over the Jupyter protocol (like tests/kernels.py)."""

    def __init__(self, cwd: Path, env: dict[str, str], log: Path) -> None:
        self.km = KernelManager(kernel_name="python3")
        # The kernel's own stdout/stderr (not the cells' output) go to a log file.
        with open(log, "ab") as fh:
            self.km.start_kernel(cwd=str(cwd), env={**os.environ, **env}, stdout=fh, stderr=fh)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)

    @property
    def pid(self) -> int:
        return int(self.km.provisioner.process.pid)  # type: ignore[union-attr]

    def run(self, code: str, timeout: float = 900) -> Execution:
        result = Execution()

        def hook(msg: dict[str, Any]) -> None:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                if content["name"] == "stdout":
                    result.stdout += content["text"]
                else:
                    result.stderr += content["text"]
            elif kind == "error":
                result.error = content

        began = time.perf_counter()
        self.kc.execute_interactive(code, output_hook=hook, timeout=timeout)
        result.seconds = time.perf_counter() - began
        if result.error is not None:
            raise RuntimeError(
                f"cell failed: {result.error['ename']}: {result.error['evalue']}\n{code}"
            )
        return result

    def warm_up(self, nbytes: int) -> None:
        """Import numpy/pandas and fault in (then free) nbytes of memory."""
        self.run(
            "import numpy as _np, pandas as _pd, gc as _gc\n"
            f"_w = _np.ones({nbytes // 8}); _w.sum(); del _w, _np, _pd; _gc.collect()\n"
        )

    def shutdown(self) -> None:
        self.kc.stop_channels()
        if self.km.has_kernel:
            self.km.shutdown_kernel(now=True)


def hermetic_env(home: Path) -> dict[str, str]:
    """IPython's and Jupyter's directories and the signing key under `home` (made), so a
    benchmark's kernels touch nothing of the user's."""
    env = {
        "IPYTHONDIR": str(home / "ipython"),
        "JUPYTER_CONFIG_DIR": str(home / "jupyter_config"),
        "JUPYTER_DATA_DIR": str(home / "jupyter_data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "MIRRORNEURON_KEY_FILE": str(home / "signing.key"),
    }
    for key in ("IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        Path(env[key]).mkdir(parents=True, exist_ok=True)
    return env


def emit(expr: str) -> str:
    """Code that prints a dict expression as one JSON line the driver picks up."""
    return f"import json as _bj\nprint({MARK!r} + _bj.dumps({expr}))\n"


def timed_in_kernel(before: str, body: str, after: str = "") -> str:
    """A cell that prints how long `body` took, measured inside the kernel."""
    return (
        f"{before}\nimport time as _bt, json as _bj\n_b0 = _bt.perf_counter()\n{body}\n"
        f"_b1 = _bt.perf_counter()\n{after}\n"
        f"print({MARK!r} + _bj.dumps({{'s': _b1 - _b0, **globals().get('_bx', {{}})}}))\n"
    )


TIMED_TOUCH = f"_t0 = _bt.perf_counter()\n_bsum = {TOUCH}\n" + (
    "_bx = {'touch': _bt.perf_counter() - _t0, 'checksum': _bsum}"
)


# -- the machine, memory and disk ---------------------------------------------------------


def drop_caches() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def tree_size(root: Path) -> tuple[int, int]:
    """(bytes allocated on disk, apparent bytes) of every file under root."""
    disk = apparent = 0
    for p in root.rglob("*"):
        if p.is_file():
            st = p.stat()
            disk += st.st_blocks * 512
            apparent += st.st_size
    return disk, apparent


def machine() -> dict[str, str]:
    def sh(cmd: str) -> str:
        try:
            return subprocess.run(
                cmd, shell=True, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"

    import numpy
    import pandas

    cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    return {
        "nproc": sh("nproc"),
        "cpu": cpu or platform.processor(),
        "ram": sh("free -h | awk '/^Mem:/ {print $2}'"),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "kernel": platform.release(),
        "git": sh(f"git -C {REPO} rev-parse --short HEAD")
        + (" + uncommitted changes" if sh(f"git -C {REPO} status -s -- mirrorneuron_nb") else ""),
        "disk": sh(f'df -hT {tempfile.gettempdir()} | awk \'NR==2 {{print $1" "$2" "$3}}\''),
    }


# -- one repetition -----------------------------------------------------------------------


@dataclass
class Rep:
    plain_cells: dict[str, float] = field(default_factory=dict)
    step_cells: dict[str, float] = field(default_factory=dict)
    rerun_cells: dict[str, float] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)


class Bench:
    def __init__(self, sz: dict[str, Any], root: Path, cold: bool) -> None:
        self.sz = sz
        self.root = root
        self.cold = cold
        self.cells = notebook_cells(sz)
        home = root / "home"
        self.env = {**hermetic_env(home), "PYTHONHASHSEED": "0"}
        self.live: list[Kernel] = []

    def kernel(self, sidecar: Path | None = None, mn: bool = False) -> Kernel:
        env = dict(self.env)
        if sidecar is not None:
            env["MIRRORNEURON_SIDECAR"] = str(sidecar)
        work = self.root / "work"
        work.mkdir(exist_ok=True)
        k = Kernel(work, env, self.root / "kernels.log")
        self.live.append(k)
        if mn:
            k.run("%load_ext mirrorneuron_nb")
        return k

    def close(self, k: Kernel) -> None:
        k.shutdown()
        self.live.remove(k)

    def close_all(self) -> None:
        for k in list(self.live):
            self.close(k)

    # a + d: the notebook plain and as steps --------------------------------------------

    def run_plain(self, rep: Rep, pickle_path: Path) -> None:
        k = self.kernel()
        k.warm_up(self.sz["warm_bytes"])
        for name, code in self.cells:
            rep.plain_cells[name] = k.run(code).seconds
        rep.values["checksum"] = k.run(emit(f"{{'c': {TOUCH}}}")).bench()["c"]
        # Unique bytes the notebook produced: arr twice (before and after `arr *= 2`),
        # everything else once, pickled in-band (modules: their name, ~0).
        unique = k.run(
            "import pickle as _pk\n"
            f"_u = 2 * arr.nbytes + sum(len(_pk.dumps(globals()[_v], protocol=5)) for _v in "
            f"{[v for v in DATA_VARS if v != 'arr']!r})\n" + emit("{'u': _u}")
        )
        rep.values["unique_bytes"] = unique.bench()["u"]
        # The lower bound for resume: the same live values in one protocol-5 pickle.
        k.warm_up(self.sz["warm_bytes"])
        dumped = k.run(
            timed_in_kernel(
                "import pickle, os",
                f"with open({str(pickle_path)!r}, 'wb') as _f:\n"
                f"    pickle.dump({{_v: globals()[_v] for _v in {DATA_VARS!r}}}, _f, protocol=5)\n"
                "    _f.flush(); os.fsync(_f.fileno())",
            )
        )
        rep.values["pickle_dump_s"] = dumped.bench()["s"]
        rep.values["pickle_file_bytes"] = pickle_path.stat().st_size
        self.close(k)

    def run_steps(self, rep: Rep, sidecar: Path) -> None:
        k = self.kernel(sidecar, mn=True)
        k.warm_up(self.sz["warm_bytes"])
        for name, code in self.cells:
            rep.step_cells[name] = k.run(f"%%mn_step {name}\n{code}").seconds
        # Checkpoints are written behind the cells: %mn_status returns once every one is
        # durable, so this is what the notebook still owed the disk after its last cell.
        rep.values["settle_s"] = k.run("%mn_status").seconds
        disk, apparent = tree_size(sidecar)
        rep.values["sidecar_disk"] = disk
        rep.values["sidecar_apparent"] = apparent
        rep.values["blobs_disk"] = tree_size(sidecar / "blobs")[0]
        # d. re-run the 200 MB array step with --force, unchanged.
        load_code = self.cells[0][1]
        k.run(f"%%mn_step --force load\n{load_code}")
        rep.values["force_growth"] = tree_size(sidecar)[0] - disk
        rep.values["force_growth_apparent"] = tree_size(sidecar)[1] - apparent
        # Bonus: run every cell again in the same kernel: all cache hits.
        k.warm_up(self.sz["warm_bytes"])
        for name, code in self.cells:
            rep.rerun_cells[name] = k.run(f"%%mn_step {name}\n{code}").seconds
        self.close(k)

    # b: resume vs pickle.load in fresh kernels ---------------------------------------------

    def fresh_resume(self, sidecar: Path, cold: bool) -> dict[str, Any]:
        k = self.kernel(sidecar, mn=True)
        k.warm_up(self.sz["warm_bytes"])
        if cold and not drop_caches():
            self.close(k)
            return {}
        out = k.run(
            timed_in_kernel(
                "",
                "get_ipython().run_line_magic('mn_resume', '')",
                TIMED_TOUCH,
            )
        )
        res = out.bench()
        res["round_trip"] = out.seconds
        names = k.run(
            "import types as _ty\n"
            + emit(
                "{'names': sorted(_k for _k, _v in globals().items()"
                " if not _k.startswith('_') and not isinstance(_v, _ty.ModuleType)"
                " and _k not in get_ipython().user_ns_hidden)}"
            )
        )
        res["names"] = names.bench()["names"]
        self.close(k)
        return res

    def fresh_pickle_load(self, pickle_path: Path, cold: bool) -> dict[str, Any]:
        k = self.kernel()
        k.warm_up(self.sz["warm_bytes"])
        if cold and not drop_caches():
            self.close(k)
            return {}
        out = k.run(
            timed_in_kernel(
                "import pickle",
                "import numpy as np, pandas as pd, time\n"
                f"with open({str(pickle_path)!r}, 'rb') as _f:\n"
                "    globals().update(pickle.load(_f))",
                TIMED_TOUCH,
            )
        )
        res = out.bench()
        res["round_trip"] = out.seconds
        self.close(k)
        return res

    # c: trivial steps ------------------------------------------------------------------------

    def trivial(self, rep: Rep, sidecar: Path) -> None:
        install = textwrap.dedent(
            """\
            def _bench_install():
                import sys, time
                state = {"t0": 0.0, "times": []}
                def pre(info):
                    state["t0"] = time.perf_counter()
                def post(result):
                    state["times"].append(time.perf_counter() - state["t0"])
                ip = get_ipython()
                ip.events.register("pre_run_cell", pre)
                ip.events.register("post_run_cell", post)
                sys._bench_state = state
            _bench_install()
            del _bench_install
            """
        )
        plain, step = self.kernel(), self.kernel(sidecar, mn=True)
        for k in (plain, step):
            k.run(install)
        for i in range(5):  # first step opens the sidecar and starts the run
            plain.run("x = 1")
            step.run(f"%%mn_step warm{i}\nx = 1")
        for k in (plain, step):
            k.run("import sys; sys._bench_state['times'].clear()")
        rt_plain: list[float] = []
        rt_step: list[float] = []
        for i in range(self.sz["trivial"]):
            rt_plain.append(plain.run("x = 1").seconds)
            rt_step.append(step.run(f"%%mn_step t{i}\nx = 1").seconds)
        inside = []
        for k in (plain, step):
            out = k.run("import sys\n" + emit("{'t': sys._bench_state['times'][1:]}"))
            # times[0] is the cell that cleared the list; this cell is not recorded yet.
            inside.append(out.bench()["t"])
        med = statistics.median
        rep.values["trivial_rt_plain"] = med(rt_plain)
        rep.values["trivial_rt_step"] = med(rt_step)
        rep.values["trivial_in_plain"] = med(inside[0])
        rep.values["trivial_in_step"] = med(inside[1])
        n = len(rt_step)
        rep.values["trivial_in_step_first_q"] = med(inside[1][: n // 4])
        rep.values["trivial_in_step_last_q"] = med(inside[1][-(n // 4) :])
        self.close(plain)
        self.close(step)

    # one repetition ----------------------------------------------------------------------------

    def repetition(self, i: int) -> Rep:
        rep = Rep()
        base = self.root / f"rep{i}"
        base.mkdir()
        sidecar, pickle_path = base / "notebook.mn", base / "state.pkl"
        # Alternate which side goes first, so drift in the VM favours neither.
        for side in ["plain", "steps"] if i % 2 == 0 else ["steps", "plain"]:
            log(f"run {i + 1}: notebook {'plain' if side == 'plain' else 'as steps'}")
            if side == "plain":
                self.run_plain(rep, pickle_path)
            else:
                self.run_steps(rep, sidecar)
        order = ["resume", "pickle"] if i % 2 == 0 else ["pickle", "resume"]
        for cold in [False, True] if self.cold else [False]:
            tag = "cold" if cold else "warm"
            for side in order:
                log(f"run {i + 1}: {side} in a fresh kernel ({tag} page cache)")
                if side == "resume":
                    res = self.fresh_resume(sidecar, cold)
                    if res and not cold:
                        rep.values["resume_names_ok"] = float(
                            sorted(res.pop("names")) == sorted(DATA_VARS)
                        )
                else:
                    res = self.fresh_pickle_load(pickle_path, cold)
                if not res:
                    log("  cannot drop caches (not root?): skipping cold measurements")
                    self.cold = False
                    break
                for key in ("s", "touch", "round_trip"):
                    rep.values[f"{side}_{tag}_{key}"] = res[key]
                rep.values[f"{side}_{tag}_ok"] = float(
                    abs(res["checksum"] - rep.values["checksum"])
                    <= 1e-9 * max(1.0, abs(rep.values["checksum"]))
                )
        log(f"run {i + 1}: trivial steps")
        self.trivial(rep, base / "trivial.mn")
        shutil.rmtree(base, ignore_errors=True)
        return rep


# -- report -----------------------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fmt_s(x: float) -> str:
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"


def fmt_b(x: float) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if abs(x) >= size:
            return f"{x / size:.2f} {unit}"
    return f"{x:.0f} B"


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "MISSED"


def report(reps: list[Rep], sz: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    med = statistics.median

    def m(key: str) -> float:
        return med(r.values[key] for r in reps)

    def cell_med(attr: str, name: str) -> float:
        return med(getattr(r, attr)[name] for r in reps)

    names = [name for name, _ in notebook_cells(sz)]
    plain_total = med(sum(r.plain_cells.values()) for r in reps)
    step_total = med(sum(r.step_cells.values()) for r in reps)
    rerun_total = med(sum(r.rerun_cells.values()) for r in reps)
    rows: list[list[str]] = []

    def row(metric: str, base: str, ours: str, ratio: str, target: str = "") -> None:
        rows.append([metric, base, ours, ratio, target])

    row(
        "a. notebook, all 5 cells",
        fmt_s(plain_total),
        fmt_s(step_total),
        f"{step_total / plain_total:.2f}x",
        f"<= {TARGETS['run']}x {verdict(step_total / plain_total, TARGETS['run'])}",
    )
    for name in names:
        p, s = cell_med("plain_cells", name), cell_med("step_cells", name)
        row(f"   cell {name}", fmt_s(p), fmt_s(s), f"+{fmt_s(s - p)}")
    if all("settle_s" in r.values for r in reps):
        settled = med(sum(r.step_cells.values()) + r.values["settle_s"] for r in reps)
        row(
            "   ... until every checkpoint is durable",
            fmt_s(plain_total),
            fmt_s(settled),
            f"{settled / plain_total:.2f}x",
        )
    row(
        "   re-run all 5 (cache hits, same kernel)",
        fmt_s(plain_total),
        fmt_s(rerun_total),
        f"{rerun_total / plain_total:.2f}x",
    )

    resume = m("resume_warm_s")
    lower = m("pickle_warm_s")
    row(
        "b. %mn_resume (warm cache) vs pickle.load",
        fmt_s(lower),
        fmt_s(resume),
        f"{resume / lower:.2f}x",
        f"<= {TARGETS['resume']}x {verdict(resume / lower, TARGETS['resume'])}",
    )
    rt, lt = m("resume_warm_touch"), m("pickle_warm_touch")
    row(
        "   + touch all data",
        fmt_s(lower + lt),
        fmt_s(resume + rt),
        f"{(resume + rt) / (lower + lt):.2f}x",
    )
    row(
        "   %mn_resume vs re-executing the notebook",
        fmt_s(plain_total),
        fmt_s(resume),
        f"{resume / plain_total:.3f}x ({plain_total / resume:.0f}x faster)",
    )
    if all("resume_cold_s" in r.values for r in reps):
        rc, lc = m("resume_cold_s"), m("pickle_cold_s")
        rct, lct = m("resume_cold_touch"), m("pickle_cold_touch")
        row("   %mn_resume (cold cache) vs pickle.load", fmt_s(lc), fmt_s(rc), f"{rc / lc:.2f}x")
        row(
            "   cold + touch all data",
            fmt_s(lc + lct),
            fmt_s(rc + rct),
            f"{(rc + rct) / (lc + lct):.2f}x",
        )
    row(
        "   pickle.dump+fsync (plain) vs steps' checkpoint cost",
        fmt_s(m("pickle_dump_s")),
        fmt_s(step_total - plain_total),
        "",
    )

    tp, ts = m("trivial_rt_plain"), m("trivial_rt_step")
    ip, is_ = m("trivial_in_plain"), m("trivial_in_step")
    row(
        f"c. trivial cell, client round trip (median of {sz['trivial']})",
        fmt_s(tp),
        fmt_s(ts),
        f"+{(ts - tp) * 1000:.2f} ms",
        f"<= {TARGETS['trivial_ms']} ms {verdict((ts - tp) * 1000, TARGETS['trivial_ms'])}",
    )
    row(
        "   trivial cell, inside the kernel (pre->post_run_cell)",
        fmt_s(ip),
        fmt_s(is_),
        f"+{(is_ - ip) * 1000:.2f} ms",
    )
    row(
        "   inside, first vs last quarter of the steps",
        fmt_s(m("trivial_in_step_first_q")),
        fmt_s(m("trivial_in_step_last_q")),
        "",
    )

    size, unique = m("sidecar_disk"), m("unique_bytes")
    row(
        "d. sidecar on disk vs unique bytes",
        fmt_b(unique),
        fmt_b(size),
        f"{size / unique:.3f}x",
        f"<= {TARGETS['size']}x {verdict(size / unique, TARGETS['size'])}",
    )
    row("   of which blobs/", "", fmt_b(m("blobs_disk")), "")
    growth = m("force_growth")
    row(
        "   growth on --force re-run of the array step",
        "",
        fmt_b(growth),
        "",
        f"< 1 MB {verdict(growth, TARGETS['force_growth'] - 1)}",
    )

    widths = [max(len(r[i]) for r in [*rows, HEADER]) for i in range(5)]
    lines = [
        " | ".join(h.ljust(w) for h, w in zip(HEADER, widths, strict=True)),
        "-|-".join("-" * w for w in widths),
    ]
    lines += [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    print("\n".join("| " + line + " |" for line in lines))
    checks = {
        k: all(r.values.get(k, 1.0) == 1.0 for r in reps)
        for k in (
            "resume_names_ok",
            "resume_warm_ok",
            "pickle_warm_ok",
            "resume_cold_ok",
            "pickle_cold_ok",
        )
    }
    print(f"\nmedians of {len(reps)} run(s); sanity checks (same values restored): {checks}")
    return {
        "args": vars(args),
        "sizes": sz,
        "machine": machine(),
        "reps": [r.__dict__ for r in reps],
        "table": rows,
        "checks": checks,
    }


HEADER = ["measurement", "baseline", "mirrorneuron", "ratio / delta", "target"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=None, help="repetitions (default 3)")
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 run: smoke check")
    parser.add_argument("--no-cold", action="store_true", help="skip drop_caches measurements")
    parser.add_argument("--json", type=Path, help="also write all raw figures here")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()
    sz = {k: v[1 if args.quick else 0] for k, v in SIZES.items()}
    runs = args.runs or (1 if args.quick else 3)
    root = Path(tempfile.mkdtemp(prefix="mn-bench-"))
    bench = Bench(sz, root, cold=not args.no_cold)
    log(f"scratch dir {root}; sizes {sz}; {runs} run(s)")
    info = machine()
    log("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    reps: list[Rep] = []
    try:
        for i in range(runs):
            reps.append(bench.repetition(i))
    finally:
        bench.close_all()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\nmachine: {', '.join(f'{k}={v}' for k, v in info.items())}")
    print(f"sizes: {sz}\n")
    data = report(reps, sz, args)
    if args.json:
        args.json.write_text(json.dumps(data, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
