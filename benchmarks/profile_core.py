"""cProfile inside a real kernel, per phase of bench_core.py's notebook.

    .venv/bin/python benchmarks/profile_core.py [steps] [resume] [trivial] [--quick] [--top N]

steps:   each notebook cell as a step (fresh sidecar), profiled separately
resume:  %mn_resume of that sidecar in a fresh kernel
trivial: 300 `%%mn_step pN / x = 1` magics in one cell (excludes IPython's run_cell), then
         the SQL statements a trivial step sends (SQLite's trace callback, 50 more steps)
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from bench_core import SIZES, Bench, Kernel

PROFILED = """\
import cProfile as _cp, pstats as _ps, io as _io
_pr = _cp.Profile()
_pr.enable()
{body}
_pr.disable()
_s = _io.StringIO()
_ps.Stats(_pr, stream=_s).sort_stats({sort!r}).print_stats({top})
print(_s.getvalue())
"""


COUNTED = """\
_mn = get_ipython()._mirrorneuron_session
_seen = []
_mn.store.conn.set_trace_callback(_seen.append)  # SQLite only: what a trivial step sends
for _i in range(50):
    get_ipython().run_cell_magic('mn_step', f'q{_i}', 'x = 1\\n')
_mn.store.conn.set_trace_callback(None)
print(f"=== SQL statements per trivial step: {len(_seen) / 50:.1f} (BEGIN/COMMIT included)")
"""


def profile(k: Kernel, title: str, body: str, top: int, sort: str = "tottime") -> None:
    out = k.run(PROFILED.format(body=body, sort=sort, top=top))
    lines = [ln for ln in out.stdout.splitlines() if ln.strip()]
    # Drop the "Ordered by / List reduced" preamble; keep the totals line and the table.
    keep = [ln for ln in lines if not ln.lstrip().startswith(("Ordered by", "List reduced"))]
    print(f"=== {title} (sorted by {sort})")
    print("\n".join(keep))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phases", nargs="*", default=["steps", "resume", "trivial"])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    sz = {k: v[1 if args.quick else 0] for k, v in SIZES.items()}
    root = Path(tempfile.mkdtemp(prefix="mn-prof-"))
    bench = Bench(sz, root, cold=False)
    sidecar = root / "notebook.mn"
    try:
        if "steps" in args.phases or "resume" in args.phases:
            k = bench.kernel(sidecar, mn=True)
            k.warm_up(sz["warm_bytes"])
            for name, code in bench.cells:
                call = f"get_ipython().run_cell_magic('mn_step', {name!r}, {code!r})"
                if "steps" in args.phases:
                    profile(k, f"step {name}", call, args.top)
                else:
                    k.run(call)
            bench.close(k)
        if "resume" in args.phases:
            k = bench.kernel(sidecar, mn=True)
            k.warm_up(sz["warm_bytes"])
            profile(k, "%mn_resume", "get_ipython().run_line_magic('mn_resume', '')", args.top)
            bench.close(k)
        if "trivial" in args.phases:
            k = bench.kernel(root / "trivial.mn", mn=True)
            k.run("%%mn_step warm\nx = 1")
            body = (
                "for _i in range(300):\n"
                "    get_ipython().run_cell_magic('mn_step', f'p{_i}', 'x = 1\\n')"
            )
            profile(k, "300 trivial steps", body, args.top)
            print(k.run(COUNTED).stdout.strip(), end="\n\n")
            bench.close(k)
    finally:
        bench.close_all()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
