"""`%mn_resume` of a large state against `pickle.load` of the same values, in real kernels.

One kernel builds the state in a step (arrays, most of the bytes, plus a few pickled
objects) and also pickles the same values to a file. Then, alternating per round, a
restarted kernel either resumes (`%mn_resume`) or `pickle.load`s the file, and times,
inside the kernel: until the values are bound ("usable"), until one array is readable
(the read barrier waits for that array's hash check), and until everything was touched
(the sum of every array, the len of every object; background checks included). Peak RSS
is read from the kernel. Medians and ratios are printed; nothing is asserted.

    .venv/bin/python benchmarks/bench_resume.py [--size-mb 2048] [--runs 3] [--json PATH]
    .venv/bin/python benchmarks/bench_resume.py --size-mb 64 --runs 1     # smoke (~1 min)
    ... --old /tmp/old-checkout   # also resume with that checkout's code, interleaved

`--old`: a checkout of an earlier commit (e.g. `git worktree add /tmp/old-checkout
BASE`); a second kernel runs `%mn_resume` with it on the same sidecar, in each round.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from mirrorneuron_nb.batch.driver import Kernel

ARRAYS = 8

BUILD = """%%mn_step build
import numpy as np
rng = np.random.default_rng(7)
{arrays}
records = [{{'id': i, 'name': f'r{{i}}', 'score': i * 0.5}} for i in range(200_000)]
lookup = {{f'k{{i}}': (i, str(i)) for i in range(100_000)}}
words = ' '.join(f'w{{i}}' for i in range(200_000)).split()
"""

# Times run from the start of the load to the end of each cell, across cells: the read
# barrier runs between cells, before a cell's code.
# Read inline (a notebook function would make the barrier wait for everything).
RSS = "with open('/proc/self/status') as _fh:\n    _status = _fh.read()\n"
RSS_NOW = "int(_status.split('VmRSS:')[1].split()[0]) * 1024"

LOAD_RESUME = (
    "import time as _time\n_t0 = _time.perf_counter()\n%mn_resume\n"
    "_usable = _time.perf_counter() - _t0\n" + RSS + f"_rss_usable = {RSS_NOW}\n"
)

LOAD_PICKLE = (
    "import pickle, time as _time\n_t0 = _time.perf_counter()\n"
    "with open('state.pkl', 'rb') as _fh:\n    globals().update(pickle.load(_fh))\n"
    "_usable = _time.perf_counter() - _t0\n" + RSS + f"_rss_usable = {RSS_NOW}\n"
)

ONE_ARRAY = "_first = float(a0[-1]); _one = _time.perf_counter() - _t0\n"

TOUCH = (
    "_total = sum(float(a.sum()) for a in [{arrays}])\n"
    "_lens = len(records) + len(lookup) + len(words)\n"
    "_touched = _time.perf_counter() - _t0\n" + RSS + "import json as _json, resource\n"
    "print(_json.dumps({{'usable': _usable, 'one': _one, 'touched': _touched,"
    " 'rss_usable': _rss_usable, 'rss_after': " + RSS_NOW + ","
    " 'peak': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}}))\n"
)


def _env(scratch: Path) -> dict[str, str]:
    env = {}
    for var, sub in [
        ("IPYTHONDIR", "ipython"),
        ("JUPYTER_CONFIG_DIR", "jupyter_config"),
        ("JUPYTER_DATA_DIR", "jupyter_data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
    ]:
        (scratch / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(scratch / sub)
    env["MIRRORNEURON_KEY_FILE"] = str(scratch / "signing.key")
    return env


def _build(kernel: Kernel, size_mb: int) -> None:
    per = size_mb * (1 << 20) // ARRAYS // 8
    arrays = "\n".join(f"a{i} = rng.standard_normal({per})" for i in range(ARRAYS))
    kernel.run("%load_ext mirrorneuron_nb")
    kernel.run(BUILD.format(arrays=arrays), timeout=1800)
    names = [f"a{i}" for i in range(ARRAYS)] + ["records", "lookup", "words"]
    kernel.run(
        "import pickle\nwith open('state.pkl', 'wb') as _fh:\n"
        f"    pickle.dump({{n: globals()[n] for n in {names!r}}}, _fh, protocol=5)\n",
        timeout=1800,
    )


def _measure(kernel: Kernel, load: str) -> dict[str, float]:
    kernel.restart()
    kernel.run("%load_ext mirrorneuron_nb\nimport numpy as np\n")
    kernel.run(load, timeout=600)
    kernel.run(ONE_ARRAY, timeout=600)
    arrays = ", ".join(f"a{i}" for i in range(ARRAYS))
    out = kernel.run(TOUCH.format(arrays=arrays), timeout=600)
    found: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=2048, help="bytes of arrays, in MiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write every measurement here")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--old", type=Path, help="a checkout whose %%mn_resume to compare")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-resume-"))
    work = scratch / "work"
    work.mkdir()
    kernel = Kernel(work, env=_env(scratch))
    old = None
    if args.old is not None:
        old = Kernel(work, env={**_env(scratch), "PYTHONPATH": str(args.old.resolve())})
    results: dict[str, list[dict[str, float]]] = {"resume": [], "pickle": []}
    if old is not None:
        results["old resume"] = []
    try:
        _build(kernel, args.size_mb)
        for _ in range(args.runs):  # alternating: the machine's noise hits every side
            results["resume"].append(_measure(kernel, LOAD_RESUME))
            results["pickle"].append(_measure(kernel, LOAD_PICKLE))
            if old is not None:
                results["old resume"].append(_measure(old, LOAD_RESUME))
    finally:
        kernel.shutdown()
        if old is not None:
            old.shutdown()
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    _report(results, args)


def _median(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def _report(results: dict[str, list[dict[str, float]]], args: Any) -> None:
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}"
        f"; state: {args.size_mb} MiB of arrays ({ARRAYS}) + 3 pickled objects; "
        f"median of {args.runs} run(s), warm page cache"
    )
    p = results["pickle"]
    sides = [k for k in results if k != "pickle"]
    for key, what in [
        ("usable", "values bound"),
        ("one", "one array read"),
        ("touched", "everything touched"),
    ]:
        b = _median(p, key)
        shown = "   ".join(
            f"{side} {_median(results[side], key):7.3f} s ({_median(results[side], key) / b:4.2f}x)"
            for side in sides
        )
        print(f"  {what:<20} pickle.load {b:7.3f} s   {shown}")
    for key, what in [
        ("rss_usable", "RSS when bound"),
        ("rss_after", "RSS after touch"),
        ("peak", "peak RSS"),
    ]:
        shown = "   ".join(
            f"{side} {_median(results[side], key) / 2**20:6.0f} MB" for side in sides
        )
        print(f"  {what:<20} pickle.load {_median(p, key) / 2**20:6.0f} MB   {shown}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
