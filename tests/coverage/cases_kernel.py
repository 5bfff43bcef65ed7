"""Cases about the kernel rather than a value: IPython magics and top-level await in a
step, and the process-wide library settings a step sets (guarantee 8). Both groups compare
a probe's result with a plain kernel that ran the same code as ordinary cells."""

from __future__ import annotations

from .model import Group, case

MAGICS = (
    case(
        "mg_time_line",
        "magics",
        (),
        "%time mg_t = sum(range(1000))",
        "%time mg_t = mg_t + 1",
        probe="result = mg_t",
        names=["mg_t"],
    ),
    case(
        "mg_time_cell",
        "magics",
        (),
        "%%time\nmg_ct = [1, 2, 3]",
        "%%time\nmg_ct.append(4)",
        probe="result = mg_ct",
        names=["mg_ct"],
    ),
    case(
        "mg_timeit",
        "magics",
        (),
        "mg_ti = %timeit -o -n1 -r1 sum(range(100))",
        "mg_loops = [mg_ti.loops, mg_ti.repeat]",
        probe="result = (type(mg_ti).__name__, mg_ti.loops, mg_ti.repeat, mg_loops)",
        names=["mg_ti", "mg_loops"],
    ),
    case(
        "mg_capture",
        "magics",
        (),
        "%%capture mg_cap\nprint('hello')",
        "mg_text = mg_cap.stdout.upper()",
        probe="result = (mg_cap.stdout, mg_text)",
        names=["mg_cap", "mg_text"],
    ),
    case(
        "mg_await",
        "magics",
        (),
        "import asyncio\nasync def mg_fetch(v):\n    await asyncio.sleep(0)\n    return v * 2\n"
        "mg_aw = await mg_fetch(21)",
        "mg_aw = await mg_fetch(mg_aw)",
        probe="result = mg_aw",
        names=["mg_aw"],
    ),
    case(
        "mg_shell",
        "magics",
        (),
        "mg_sh = !echo hello",
        "mg_sh.append('x')",
        probe="result = list(mg_sh)",
        names=["mg_sh"],
        always_runs=("create",),
    ),
    case(
        "mg_line_magic_value",
        "magics",
        (),
        "mg_pwd = %pwd",
        "mg_pwd_parts = mg_pwd.split('/')",
        probe="result = (mg_pwd, mg_pwd_parts)",
        names=["mg_pwd", "mg_pwd_parts"],
    ),
)

_SHA = "import hashlib\n"
SETTINGS = (
    case(
        "set_rcparams",
        "library settings",
        ("matplotlib",),
        "import matplotlib\nmatplotlib.rcParams['lines.linewidth'] = 3.5",
        "matplotlib.rcParams['axes.grid'] = True",
        probe="import matplotlib\nrc = matplotlib.rcParams\n"
        "result = (rc['lines.linewidth'], rc['axes.grid'])",
    ),
    case(
        "set_mpl_style",
        "library settings",
        ("matplotlib",),
        "import matplotlib.pyplot as plt\nplt.style.use('ggplot')",
        "plt.rcParams['axes.titlesize'] = 'x-large'",
        probe="import matplotlib\nrc = matplotlib.rcParams\n"
        "result = (rc['axes.facecolor'], rc['axes.titlesize'], rc['axes.prop_cycle'])",
    ),
    case(
        "set_np_seed",
        "library settings",
        ("numpy",),
        "import numpy as np\nnp.random.seed(42)",
        "set_draw = np.random.rand(3)",
        probe=_SHA + "import numpy\nst = numpy.random.get_state()\n"
        "result = (hashlib.sha1(st[1].tobytes()).hexdigest(), st[2], set_draw.tolist())",
    ),
    case(
        "set_random_seed",
        "library settings",
        (),
        "import random\nrandom.seed(7)",
        "set_r = random.random()",
        probe=_SHA + "import random\n"
        "result = (hashlib.sha1(repr(random.getstate()).encode()).hexdigest(), set_r)",
    ),
    case(
        "set_pd_option",
        "library settings",
        ("pandas",),
        "import pandas as pd\npd.set_option('display.max_rows', 7)",
        "pd.set_option('display.precision', 3)",
        probe="import pandas\n"
        "result = (pandas.get_option('display.max_rows'), pandas.get_option('display.precision'))",
    ),
    case(
        "set_warnings",
        "library settings",
        (),
        "import warnings\n"
        "warnings.filterwarnings('ignore', message='mn-cov-1', category=UserWarning)",
        "warnings.filterwarnings('always', message='mn-cov-2')",
        probe="import warnings\n"
        "result = [(f[0], f[1].pattern, f[2].__name__) for f in warnings.filters\n"
        "          if f[1] is not None and 'mn-cov' in f[1].pattern]",
    ),
    case(
        "set_chdir",
        "library settings",
        (),
        "import os\nos.makedirs('set_sub/deeper', exist_ok=True)\nos.chdir('set_sub')",
        "os.chdir('deeper')",
        probe="import os\nresult = os.getcwd()",
    ),
    case(
        "set_environ",
        "library settings",
        (),
        "import os\nos.environ['MN_COV_FLAG'] = 'on'\nos.environ['MN_COV_GONE'] = 'x'",
        "os.environ['MN_COV_FLAG'] += '-2'\ndel os.environ['MN_COV_GONE']",
        probe="import os\nresult = (os.environ.get('MN_COV_FLAG'), os.environ.get('MN_COV_GONE'))",
    ),
    case(
        "set_syspath",
        "library settings",
        (),
        "import sys\nsys.path.append('/tmp/mn_cov_extra')",
        "sys.path.insert(0, '/tmp/mn_cov_first')",
        probe="import sys\nresult = ([p for p in sys.path if 'mn_cov' in p], sys.path[0])",
    ),
    case(
        "set_np_printoptions",
        "library settings",
        ("numpy",),
        "import numpy as np\nnp.set_printoptions(precision=3)",
        "np.set_printoptions(suppress=True)",
        probe="import numpy\no = numpy.get_printoptions()\n"
        "result = (o['precision'], o['suppress'])",
    ),
    case(
        "set_np_seterr",
        "library settings",
        ("numpy",),
        "import numpy as np\nset_old = np.seterr(divide='ignore')",
        "np.seterr(over='raise')",
        probe="import numpy\nresult = sorted(numpy.geterr().items())",
    ),
    case(
        "set_decimal_context",
        "library settings",
        (),
        "import decimal\ndecimal.getcontext().prec = 6",
        "decimal.getcontext().rounding = decimal.ROUND_DOWN",
        probe="import decimal\nc = decimal.getcontext()\nresult = (c.prec, c.rounding)",
    ),
    case(
        "set_torch_seed",
        "library settings",
        ("torch",),
        "import torch\ntorch.manual_seed(123)",
        "set_tdraw = torch.rand(2)",
        probe=_SHA + "import torch\nst = torch.random.get_rng_state()\n"
        "result = (hashlib.sha1(st.numpy().tobytes()).hexdigest(), set_tdraw.tolist())",
    ),
)

GROUPS = (
    Group("magics", MAGICS, plain_kernel=True),
    Group("settings", SETTINGS, plain_kernel=True),
)
