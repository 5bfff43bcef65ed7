"""Cases for the standard library's values (datetime and zoneinfo, decimal, fractions,
pathlib, re, builtins), collections, and shared references between variables."""

from __future__ import annotations

from .model import Group, case

STDLIB = (
    case(
        "dt_aware",
        "datetime & zoneinfo",
        (),
        "from datetime import datetime, timedelta\nfrom zoneinfo import ZoneInfo\n"
        "dt_when = datetime(2024, 3, 10, 1, 30, tzinfo=ZoneInfo('America/New_York'))",
        "dt_when = dt_when + timedelta(hours=2)\ndt_list = [dt_when, dt_when.utcoffset()]",
        compare=["dt_when", "dt_list"],
    ),
    case(
        "dt_fold",
        "datetime & zoneinfo",
        (),
        "from datetime import datetime\nfrom zoneinfo import ZoneInfo\n"
        "dt_fold = datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=ZoneInfo('America/New_York'))",
        "dt_folds = {'fold': dt_fold, 'offset': dt_fold.utcoffset()}",
        compare=["dt_fold", "dt_folds"],
    ),
    case(
        "dt_date_time_delta",
        "datetime & zoneinfo",
        (),
        "import datetime as dtm\n"
        "dt_parts = {'d': dtm.date(2024, 2, 29), 'dt': dtm.timedelta(days=1, seconds=5),\n"
        "    't': dtm.time(9, 30, tzinfo=dtm.timezone(dtm.timedelta(hours=5, minutes=30)))}",
        "dt_parts['next'] = dt_parts['d'] + dt_parts['dt']",
        compare=["dt_parts"],
    ),
    case(
        "dt_zoneinfo",
        "datetime & zoneinfo",
        (),
        "from zoneinfo import ZoneInfo\ndt_zone = ZoneInfo('Asia/Kolkata')",
        "dt_zones = {dt_zone: 1}",
        compare=["dt_zone", "dt_zones"],
        checks=["dt_zone is ZoneInfo('Asia/Kolkata')"],
    ),
    case(
        "dec_decimal",
        "decimal & fractions",
        (),
        "from decimal import Decimal\ndec_a = Decimal('1.10')\n"
        "dec_b = Decimal('3.14159265358979323846264338327950288')",
        "dec_c = dec_a * 3",
        compare=["dec_a", "dec_b", "dec_c"],
    ),
    case(
        "dec_special",
        "decimal & fractions",
        (),
        "from decimal import Decimal\n"
        "dec_sp = [Decimal('NaN'), Decimal('-0'), Decimal('Infinity')]",
        "dec_sp.append(Decimal('1E+3'))",
        compare=["[str(d) for d in dec_sp]"],
    ),
    case(
        "frac_fraction",
        "decimal & fractions",
        (),
        "from fractions import Fraction\nfrac_f = Fraction(1, 3)",
        "frac_f += Fraction(1, 6)",
        compare=["frac_f"],
    ),
    case(
        "path_pathlib",
        "pathlib & re",
        (),
        "from pathlib import Path, PurePosixPath, PureWindowsPath\n"
        "pth_p = Path('data') / 'raw' / 'x.csv'\n"
        "pth_list = [pth_p, PurePosixPath('/a/b'), PureWindowsPath('C:/x/y')]",
        "pth_list.append(pth_p.with_suffix('.parquet'))",
        compare=["pth_p", "pth_list"],
    ),
    case(
        "re_pattern",
        "pathlib & re",
        (),
        "import re\nre_pat = re.compile(r'(?P<word>\\w+)\\s', re.IGNORECASE | re.MULTILINE)",
        "re_found = re_pat.findall('A b C ')",
        compare=["re_pat", "re_found", "re_pat.flags"],
    ),
    case(
        "py_builtins",
        "builtins",
        (),
        "py_vals = {'c': 1 + 2j, 'b': b'\\x00\\xff', 'fs': frozenset({1, 2}), 'r': range(2, 9, "
        "3),\n"
        "    's': slice(1, None, 2), 'e': ..., 'nan': float('nan'), 'negzero': -0.0, "
        "'big': 2 ** 100}",
        "py_vals['ba'] = bytearray(b'ab')\npy_vals['ba'].append(99)",
        compare=["py_vals"],
    ),
    case(
        "py_ipaddress_uuid",
        "builtins",
        (),
        "import ipaddress\nimport uuid\npy_net = ipaddress.ip_network('10.0.0.0/24')\n"
        "py_id = uuid.UUID('12345678-1234-5678-1234-567812345678')",
        "py_ids = [py_id, py_net.num_addresses]",
        compare=["py_net", "py_id", "py_ids"],
    ),
)

COLLECTIONS = (
    case(
        "col_counter",
        "collections",
        (),
        "from collections import Counter\ncol_cnt = Counter('abracadabra')",
        "col_cnt.update('zz')",
        compare=["col_cnt", "col_cnt.most_common(2)"],
    ),
    case(
        "col_ordereddict",
        "collections",
        (),
        "from collections import OrderedDict\ncol_od = OrderedDict(a=1, b=2, c=3)",
        "col_od.move_to_end('a')",
        compare=["col_od", "list(col_od)"],
    ),
    case(
        "col_defaultdict",
        "collections",
        (),
        "from collections import defaultdict\ncol_dd = defaultdict(list)\ncol_dd['x'].append(1)",
        "col_dd['y'].append(2)",
        compare=["col_dd", "col_dd.default_factory"],
    ),
    case(
        "col_deque",
        "collections",
        (),
        "from collections import deque\ncol_dq = deque([1, 2, 3], maxlen=3)",
        "col_dq.append(4)",
        compare=["col_dq", "col_dq.maxlen"],
    ),
    case(
        "col_chainmap",
        "collections",
        (),
        "from collections import ChainMap\ncol_cm = ChainMap({'a': 1}, {'a': 0, 'b': 2})",
        "col_cm['z'] = 26",
        compare=["col_cm", "col_cm.maps"],
    ),
    case(
        "col_userdict",
        "collections",
        (),
        "from collections import UserDict\ncol_ud = UserDict(k=1)",
        "col_ud['j'] = 2",
        compare=["col_ud", "col_ud.data"],
    ),
    case(
        "col_nested",
        "collections",
        (),
        "col_nest = {('a', 1): [{1, 2}, {'k': [1.5]}], 'n': None}",
        "col_nest[('a', 1)][1]['k'].append(2.5)",
        compare=["col_nest"],
    ),
    case(
        "col_heap",
        "collections",
        (),
        "import heapq\ncol_heap = [5, 1, 4]\nheapq.heapify(col_heap)",
        "heapq.heappush(col_heap, 0)",
        compare=["col_heap"],
    ),
)

SHARED = (
    case(
        "sh_same_step",
        "shared references",
        (),
        "sh_a = [1, 2]\nsh_b = {'x': sh_a, 'y': sh_a}",
        "sh_a.append(3)",
        compare=["sh_a", "sh_b"],
        checks=["sh_b['x'] is sh_a", "sh_b['y'] is sh_b['x']"],
    ),
    case(
        "sh_cross_step",
        "shared references",
        (),
        "sh_base = [1]",
        "sh_alias = sh_base\nsh_alias.append(2)",
        compare=["sh_base", "sh_alias"],
        checks=["sh_alias is sh_base"],
    ),
    case(
        "sh_cycle",
        "shared references",
        (),
        "sh_cyc = [0]\nsh_cyc.append(sh_cyc)",
        "sh_cyc.append(1)",
        compare=["sh_cyc"],
        checks=["sh_cyc[1] is sh_cyc"],
    ),
    case(
        "sh_array_view",
        "shared references",
        ("numpy",),
        "import numpy as np\nsh_arr = np.zeros(6)",
        "sh_half = sh_arr[:3]\nsh_half[:] = 1.0",
        compare=["sh_arr", "sh_half"],
        checks=["np.shares_memory(sh_half, sh_arr)"],
    ),
    case(
        "sh_frame_holder",
        "shared references",
        ("pandas",),
        "import pandas as pd\nsh_df = pd.DataFrame({'a': [1, 2]})\nsh_holder = {'frame': sh_df}",
        "sh_df.loc[0, 'a'] = 10",
        compare=["sh_df", "sh_holder"],
        checks=["sh_holder['frame'] is sh_df"],
    ),
    case(
        "sh_object_lists",
        "shared references",
        (),
        "class ShNode:\n    def __init__(self):\n        self.v = 0\nsh_n = ShNode()\n"
        "sh_l1 = [sh_n]",
        "sh_l2 = [sh_n]\nsh_n.v = 5",
        compare=["sh_l1", "sh_l2"],
        checks=["sh_l1[0] is sh_l2[0]", "sh_l2[0] is sh_n", "isinstance(sh_n, ShNode)"],
    ),
    case(
        "sh_grid_rows",
        "shared references",
        (),
        "sh_row = [0] * 3\nsh_grid = [sh_row] * 3",
        "sh_row[0] = 1",
        compare=["sh_grid"],
        checks=["sh_grid[0] is sh_grid[2]", "sh_grid[1] is sh_row"],
    ),
    case(
        "sh_function_global",
        "shared references",
        (),
        "sh_cfg = {'k': 1}\ndef sh_get():\n    return sh_cfg['k']",
        "sh_cfg['k'] = 2",
        compare=["sh_get()", "sh_cfg"],
    ),
)

GROUPS = (Group("stdlib", STDLIB + COLLECTIONS + SHARED),)
