"""Library settings a step sets (fonts, seeds, options, filters, env, cwd, sys.path) come
back with its checkpoint: after `%mn_resume`, and when the step is served from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..helpers import fresh, run, runs_of, tick, value
from ..kernels import Kernel
from ..messages import RESTORED

pytestmark = pytest.mark.kernel

SETUP = (
    "%%mn_step setup\n"
    "import os, random, sys, warnings\n"
    "import numpy as np\n"
    "import pandas as pd\n"
    "import matplotlib\n"
    "matplotlib.use('Agg')\n"
    "import matplotlib.pyplot as plt\n"
    "plt.style.use('ggplot')\n"
    "plt.rc('font', size=21)\n"
    "np.random.seed(42)\n"
    "random.seed(7)\n"
    "pd.set_option('display.max_rows', 7)\n"
    "warnings.filterwarnings('ignore', message='mn-library-state-test')\n"
    "os.environ['MN_LIBRARY_STATE'] = 'on'\n"
    "sys.path.append('/tmp/mn-library-state-extra')\n"
    "np.set_printoptions(precision=3)\n"
    "np.seterr(divide='ignore')\n"
    "import decimal\n"
    "decimal.getcontext().prec = 9\n"
    "os.chdir('data')\n" + tick("../setup.txt")
)
DRAW = "%%mn_step draw\ndrawn = np.random.rand(3).tolist()\n" + tick("../draw.txt")

# What a plain run sees after the two steps: read back as one JSON line.
SETTINGS = (
    "import json as _j\n"
    "print(_j.dumps({"
    "'font': plt.rcParams['font.size'],"
    "'facecolor': plt.rcParams['axes.facecolor'],"
    "'rows': pd.get_option('display.max_rows'),"
    "'filtered': any(f[1] is not None and f[1].pattern == 'mn-library-state-test'"
    " for f in warnings.filters),"
    "'env': os.environ.get('MN_LIBRARY_STATE'),"
    "'path': '/tmp/mn-library-state-extra' in sys.path,"
    "'cwd': os.path.basename(os.getcwd()),"
    "'precision': np.get_printoptions()['precision'],"
    "'divide': np.geterr()['divide'],"
    "'decimal': decimal.getcontext().prec,"
    "}))"
)
NEXT_DRAWS = "print(repr((np.random.rand(2).tolist(), random.random())))"


def settings(kernel: Kernel) -> dict[str, object]:
    return dict(json.loads(run(kernel, SETTINGS).stdout.strip().splitlines()[-1]))


@pytest.fixture
def kernel(workdir: Path):
    (workdir / "data").mkdir()
    k = Kernel(workdir)
    run(k, "%load_ext mirrorneuron_nb")
    yield k
    k.shutdown()


def plain_run(kernel: Kernel) -> tuple[dict[str, object], str]:
    run(kernel, SETUP)
    run(kernel, DRAW)
    expected = settings(kernel)
    assert expected["font"] == 21 and expected["rows"] == 7 and expected["cwd"] == "data"
    assert (expected["precision"], expected["divide"], expected["decimal"]) == (3, "ignore", 9)
    return expected, value(kernel, "drawn")


def test_resume_brings_back_library_settings_and_random_state(
    kernel: Kernel, workdir: Path
) -> None:
    expected, drawn = plain_run(kernel)
    next_draws = run(kernel, NEXT_DRAWS).stdout.strip()
    fresh(kernel)
    report = run(kernel, "%mn_resume").stdout
    assert "library state re-applied" in report and "setup:" in report, report
    run(kernel, "import decimal, os, random, sys, warnings\nimport matplotlib.pyplot as plt")
    assert settings(kernel) == expected
    assert value(kernel, "drawn") == drawn
    # The next numbers drawn are the ones a plain run would draw after `draw`.
    assert run(kernel, NEXT_DRAWS).stdout.strip() == next_draws
    assert runs_of(workdir, "setup.txt") == 1 and runs_of(workdir, "draw.txt") == 1


def test_a_restored_step_re_applies_what_it_set(kernel: Kernel, workdir: Path) -> None:
    expected, drawn = plain_run(kernel)
    next_draws = run(kernel, NEXT_DRAWS).stdout.strip()
    fresh(kernel)
    assert RESTORED in run(kernel, SETUP).notes
    assert RESTORED in run(kernel, DRAW).notes
    assert settings(kernel) == expected
    assert value(kernel, "drawn") == drawn
    assert run(kernel, NEXT_DRAWS).stdout.strip() == next_draws
    assert runs_of(workdir, "setup.txt") == 1 and runs_of(workdir, "draw.txt") == 1


def test_a_step_that_sets_nothing_records_no_library_state(kernel: Kernel) -> None:
    run(kernel, "%%mn_step quiet\nx = [1, 2, 3]\n")
    fresh(kernel)
    report = run(kernel, "%mn_resume").stdout
    assert "library state" not in report, report
    assert value(kernel, "x") == "[1, 2, 3]"
