"""Notebook code whose values must fingerprint the same after a checkpoint round trip.

CASES: name -> (code run as a notebook cell, an expression checked after the restore in a
new process, or "" for none). Imported by roundtrip_child.py (the "kernels") and by
test_fingerprint_roundtrip.py.
"""

from __future__ import annotations

from typing import Any


class Bunch(dict):  # type: ignore[type-arg]
    """Like sklearn.utils.Bunch: a dict with attribute access, an instance attribute set in
    __init__ and a __setstate__ that ignores the pickled state (so a restored Bunch has an
    empty __dict__)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(kwargs)
        self.__dict__["_deprecated_key_to_warnings"] = {}

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setstate__(self, state: Any) -> None:
        pass


CASES: dict[str, tuple[str, str]] = {
    # -- numpy: any layout, small (in the pickle stream) and large (out of band) -----------
    "noncontig_small": (
        "import numpy as np\nv = np.arange(40.0).reshape(5, 8)[:, ::2]\n",
        "v.shape == (5, 4)",
    ),
    "noncontig_large": (
        "import numpy as np\nv = np.arange(600_000.0).reshape(1000, 600)[::2, 10:400]\n",
        "v.shape == (500, 390)",
    ),
    "f_order_small": (
        "import numpy as np\nv = np.asfortranarray(np.arange(30.0).reshape(5, 6))\n",
        "",
    ),
    "f_order_large": (
        "import numpy as np\nv = np.asfortranarray(np.arange(400_000.0).reshape(800, 500))\n",
        "",
    ),
    "structured": (
        "import numpy as np\n"
        "small = np.zeros(10, dtype=[('id', '<i8'), ('score', '<f4'), ('tag', 'S4')])\n"
        "small['id'] = np.arange(10)\n"
        "large = np.zeros(100_000, dtype=[('id', '<i8'), ('score', '<f4'), ('tag', 'S4')])\n"
        "large['score'] = 1.5\n"
        "column = large['score']  # a strided view into the structured array\n",
        "column.shape == (100_000,)",
    ),
    "object_array": (
        "import numpy as np\nv = np.array([{'a': 1}, 'x', None, (1, 2)], dtype=object)\n",
        "",
    ),
    "masked_array": (
        "import numpy as np\nv = np.ma.masked_array(np.arange(6.0), mask=[0, 1, 0, 0, 1, 0])\n",
        "v.mask.sum() == 2",
    ),
    "stdlib": (
        "import datetime, decimal, pathlib, re, uuid, collections, fractions\n"
        "v = {\n"
        "    'when': datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.timezone.utc),\n"
        "    'price': decimal.Decimal('1.10'),\n"
        "    'path': pathlib.Path('/tmp/x'),\n"
        "    'pattern': re.compile(r'a+b'),\n"
        "    'id': uuid.UUID(int=7),\n"
        "    'counts': collections.Counter('abracadabra'),\n"
        "    'ordered': collections.OrderedDict(b=1, a=2),\n"
        "    'default': collections.defaultdict(list, {'k': [1]}),\n"
        "    'deque': collections.deque([1, 2]),\n"
        "    'ratio': fractions.Fraction(1, 3),\n"
        "}\n",
        "v['default'].default_factory is list and v['pattern'].match('aab')",
    ),
    "memmap": (
        "import numpy as np\n"
        "v = np.memmap(WORKDIR + '/m.dat', dtype='<f8', mode='w+', shape=(300, 200))\n"
        "v[:] = 3.0\n"
        "view = v[::2]\n",
        "",
    ),
    # -- sharing: the same array twice vs two equal copies ---------------------------------
    "shared_large": (
        "import numpy as np\na = np.arange(100_000.0)\nv = {'x': a, 'y': a}\n",
        "",
    ),
    "copies_large": (
        "import numpy as np\na = np.arange(100_000.0)\nv = {'x': a, 'y': a.copy()}\n",
        "",
    ),
    "shared_small": ("import numpy as np\na = np.arange(10.0)\nv = [a, a, {'k': a}]\n", ""),
    "copies_small": (
        "import numpy as np\na = np.arange(10.0)\nv = [a, a.copy(), {'k': a.copy()}]\n",
        "",
    ),
    "estimator_like": (
        "import numpy as np\n"
        "class Model:\n"
        "    def fit(self):\n"
        "        w = np.arange(12.0).reshape(3, 4)\n"
        "        self.coef_ = w\n"
        "        self.components_ = w[:2]  # a view sharing coef_'s memory\n"
        "        self.history_ = [w, w, w.T]\n"
        "        self.classes_ = np.array(['a', 'b', 'c'])\n"
        "        return self\n"
        "model = Model().fit()\n",
        "isinstance(model, Model) and model.components_.shape == (2, 4)",
    ),
    # -- a Bunch (sklearn's datasets): importable and notebook-defined ---------------------
    "bunch": (
        "import numpy as np\n"
        "from roundtrip_cases import Bunch\n"
        "data = np.arange(600.0).reshape(150, 4)\n"
        "iris = Bunch(data=data, target=np.arange(150) % 3, frame=None,\n"
        "             feature_names=['a', 'b', 'c', 'd'], DESCR='iris', view=data[:, 1])\n",
        "iris.data.shape == (150, 4) and iris.feature_names[0] == 'a'",
    ),
    "bunch_notebook": (
        "class NbBunch(dict):\n"
        "    def __init__(self, **kw):\n"
        "        super().__init__(kw)\n"
        "        self.__dict__['_warnings'] = {}\n"
        "    def __getattr__(self, key):\n"
        "        return self[key]\n"
        "    def __setstate__(self, state):\n"
        "        pass\n"
        "b = NbBunch(x=1, y=[1, 2])\n",
        "isinstance(b, NbBunch) and b.y == [1, 2]",
    ),
    # -- classes defined in the notebook ---------------------------------------------------
    "slots": (
        "class Slotted:\n"
        "    __slots__ = ('x', 'y')\n"
        "    def __init__(self, x, y):\n"
        "        self.x, self.y = x, y\n"
        "    def total(self):\n"
        "        return self.x + self.y\n"
        "s = Slotted(1, 2)\n"
        "t = Slotted(3, 4)\n",
        "isinstance(s, Slotted) and type(s) is type(t) and s.total() == 3 "
        "and not hasattr(s, '__dict__')",
    ),
    "dataclass": (
        "from dataclasses import dataclass, field\n"
        "@dataclass\n"
        "class PointDC:\n"
        "    x: int\n"
        "    tags: list = field(default_factory=list)\n"
        "    def norm(self):\n"
        "        return abs(self.x)\n"
        "@dataclass(frozen=True)\n"
        "class Frozen:\n"
        "    name: str = 'f'\n"
        "p = PointDC(-3, ['a'])\n"
        "q = Frozen()\n"
        "points = [PointDC(1), PointDC(2)]\n",
        "isinstance(p, PointDC) and p.norm() == 3 and points[1] == PointDC(2) "
        "and q == Frozen() and hash(q) == hash(Frozen())",
    ),
    "pydantic": (
        "from pydantic import BaseModel, Field, field_validator\n"
        "class User(BaseModel):\n"
        "    name: str\n"
        "    age: int = 3\n"
        "    tags: set[str] = Field(default_factory=set)\n"
        "    def greet(self):\n"
        "        return 'hi ' + self.name\n"
        "    @field_validator('name')\n"
        "    @classmethod\n"
        "    def strip(cls, v):\n"
        "        return v.strip()\n"
        "class Team(BaseModel):\n"
        "    lead: User\n"
        "    members: list[User] = []\n"
        "u = User(name='ada', tags={'x', 'y', 'z'})\n"
        "team = Team(lead=u, members=[User(name=' bob ')])\n",
        "isinstance(u, User) and u.greet() == 'hi ada' and User(name='b').age == 3 "
        "and User.model_validate({'name': ' c '}).name == 'c' and team.members[0].name == 'bob' "
        "and isinstance(team.lead, User)",
    ),
    "pydantic_annotations": (
        # PEP 563 annotations and models that refer to each other: they share schema dicts
        "from __future__ import annotations\n"
        "from pydantic import BaseModel\n"
        "class Node(BaseModel):\n"
        "    name: str\n"
        "    children: list[Node] = []\n"
        "    owner: Owner | None = None\n"
        "class Owner(BaseModel):\n"
        "    nodes: list[Node] = []\n"
        "Node.model_rebuild()\n"
        "tree = Node(name='a', children=[Node(name='b')])\n"
        "owner = Owner(nodes=[tree])\n",
        "Node(name='x', children=[{'name': 'y'}]).children[0].name == 'y' "
        "and isinstance(owner.nodes[0], Node) "
        "and Owner.model_validate({'nodes': [{'name': 'z'}]}).nodes[0].name == 'z' "
        "and Node.model_validate({'name': 'n', 'owner': {}}).owner.nodes == []",
    ),
    "enum": (
        "import enum\n"
        "class Color(enum.Enum):\n"
        "    RED = 1\n"
        "    GREEN = 2\n"
        "    def warm(self):\n"
        "        return self is Color.RED\n"
        "class Perm(enum.IntFlag):\n"
        "    R = 4\n"
        "    W = 2\n"
        "c = Color.RED\n"
        "by_color = {Color.RED: 'r', Color.GREEN: 'g'}\n"
        "perm = Perm.R | Perm.W\n",
        "c is Color.RED and c.warm() and by_color[Color.GREEN] == 'g' and perm == 6",
    ),
    "namedtuple": (
        "import collections\n"
        "from typing import NamedTuple\n"
        "class Pt(NamedTuple):\n"
        "    x: int\n"
        "    y: int = 0\n"
        "    def dist(self):\n"
        "        return abs(self.x) + abs(self.y)\n"
        "Pair = collections.namedtuple('Pair', 'a b')\n"
        "pt = Pt(1, 2)\n"
        "pair = Pair(1, [2])\n",
        "isinstance(pt, Pt) and pt.dist() == 3 and pt._replace(x=5).x == 5 and pair.b == [2]",
    ),
    "typeddict": (
        "from typing import TypedDict\n"
        "class Movie(TypedDict, total=False):\n"
        "    title: str\n"
        "    year: int\n"
        "m: Movie = {'title': 'x', 'year': 1}\n",
        "Movie.__optional_keys__ == frozenset({'title', 'year'})",
    ),
    "abc": (
        "import abc\n"
        "class Shape(abc.ABC):\n"
        "    @abc.abstractmethod\n"
        "    def area(self): ...\n"
        "class Square(Shape):\n"
        "    def __init__(self, s):\n"
        "        self.s = s\n"
        "    def area(self):\n"
        "        return self.s ** 2\n"
        "sq = Square(3)\n"
        "isinstance(sq, Shape)  # fills the ABC caches\n",
        "isinstance(sq, Shape) and sq.area() == 9",
    ),
    "descriptors": (
        "class Temp:\n"
        "    unit = 'C'\n"
        "    def __init__(self, deg):\n"
        "        self._deg = deg\n"
        "    @property\n"
        "    def deg(self):\n"
        "        return self._deg\n"
        "    @staticmethod\n"
        "    def zero():\n"
        "        return 0\n"
        "    @classmethod\n"
        "    def freezing(cls):\n"
        "        return cls(0)\n"
        "temp = Temp(21)\n",
        "temp.deg == 21 and Temp.zero() == 0 and Temp.freezing().deg == 0",
    ),
    "subclass_super": (
        "class BaseA:\n"
        "    def __init__(self, x):\n"
        "        self.x = x\n"
        "class DerivedA(BaseA):\n"
        "    def __init__(self, x, y):\n"
        "        super().__init__(x)\n"
        "        self.y = y\n"
        "d = DerivedA(1, 2)\n",
        "isinstance(d, BaseA) and DerivedA(3, 4).x == 3",
    ),
    "nested_class": (
        "class Outer:\n"
        "    class Inner:\n"
        "        def __init__(self, v):\n"
        "            self.v = v\n"
        "        def __repr__(self):\n"
        "            return f'{type(self).__qualname__}({self.v})'\n"
        "inner = Outer.Inner(1)\n",
        "repr(inner) == 'Outer.Inner(1)'",
    ),
    # -- functions -------------------------------------------------------------------------
    "closure": (
        "def make_scale(n):\n"
        "    table = {'k': n}\n"
        "    def scale(x):\n"
        "        return x * table['k'] + OFFSET\n"
        "    return scale\n"
        "OFFSET = 1\n"
        "scale3 = make_scale(3)\n"
        "square = lambda x: x * x\n"
        "def choose(x):\n"
        "    return x in {'alpha', 'beta', 'gamma', 'delta'}\n"
        "handlers = {'scale': scale3, 'square': square, 'choose': choose}\n"
        "UNSET = object()\n"
        "def pick(x=UNSET, *, table={'a': 1}):\n"
        "    return table if x is UNSET else x\n",
        "scale3(2) == 7 and square(3) == 9 and choose('beta') and pick(5) == 5",
    ),
    # -- sets --------------------------------------------------------------------------------
    "nested_sets": (
        "v = {\n"
        "    'fs': {frozenset({'a', 'b'}), frozenset({'c'}), frozenset()},\n"
        "    'pairs': {('x', 1), ('y', 2), ('z', 3)},\n"
        "    'mixed': {1, 'a', None, 2.5, b'q'},\n"
        "    'deep': [{'k': {'p', 'q', 'r', 's'}}],\n"
        "}\n",
        "frozenset({'a', 'b'}) in v['fs']",
    ),
    # -- pandas --------------------------------------------------------------------------------
    "pandas": (
        "import numpy as np\n"
        "import pandas as pd\n"
        "n = 3000\n"
        "df = pd.DataFrame({\n"
        "    'cat': pd.Categorical(['x', 'y', 'z'] * (n // 3)),\n"
        "    'when': pd.date_range('2024-01-01', periods=n, freq='h', tz='Europe/Paris'),\n"
        "    'nint': pd.array([1, None, 3] * (n // 3), dtype='Int64'),\n"
        "    'nbool': pd.array([True, None, False] * (n // 3), dtype='boolean'),\n"
        "    'text': ['a', 'bb', None] * (n // 3),\n"
        "    'f': np.arange(n, dtype=float),\n"
        "})\n"
        "multi = df.set_index(['cat', 'when'])\n"
        "pairs = pd.MultiIndex.from_tuples([('p', 1), ('q', 2)])\n"
        "small = pd.DataFrame({'a': [1, 2]}, index=pairs)\n"
        "series = df['f'][::2]\n"
        "nint = df['nint'].array\n"
        "nint.dtype  # fills pandas' cache\n",
        "len(multi) == n and series.iloc[1] == 2.0",
    ),
    # -- library values (test_fingerprint_libs.py): each check also reads the value -----------
    "torch": (
        "import torch\n"
        "torch.manual_seed(0)\n"
        "t = torch.arange(6, dtype=torch.float32).reshape(2, 3)\n"
        "view = torch.arange(12).reshape(3, 4).t()\n"
        "bf = torch.ones(3, dtype=torch.bfloat16).add_(0.5)\n"
        "sp = torch.sparse_coo_tensor([[0, 1], [1, 0]], [3.0, 4.0], (2, 2)) * 2\n"
        "w = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "big = torch.rand(300, 400)[:, ::2]\n"
        "seq = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))\n"
        "class Net(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.lin = torch.nn.Linear(2, 1)\n"
        "    def forward(self, x):\n"
        "        return self.lin(x) * 2\n"
        "net = Net()\n"
        "gen = torch.Generator().manual_seed(3)\n"
        "r = torch.rand(2, generator=gen)\n",
        "repr(t) and repr(bf) and repr(sp) and seq(torch.ones(1, 4)).shape == (1, 1) "
        "and net(torch.ones(1, 2)).shape == (1, 1) and view[0, 1] == 4",
    ),
    "matplotlib": (
        "from matplotlib.colors import LogNorm, Normalize, ListedColormap\n"
        "from matplotlib.patches import Circle, Rectangle\n"
        "norm = Normalize(vmin=0, vmax=10)\n"
        "log = LogNorm(vmin=1, vmax=100)\n"
        "rect = Rectangle((0, 0), 2, 1, facecolor='red')\n"
        "circ = Circle((0.5, 0.5), 0.25, edgecolor='k')\n"
        "cmap = ListedColormap(['red', 'green', 'blue'], name='rgb')\n"
        "from matplotlib.figure import Figure\n"
        "fig = Figure(figsize=(4, 3))\n"
        "fig.add_subplot().plot([0, 1, 2], [1, 3, 2], label='a')\n",
        "norm(5) == 0.5 and log(10) == 0.5 and rect.get_width() == 2 and repr(circ) "
        "and len(cmap(0.5)) == 4 and circ.get_transform() is not None "
        "and fig.axes[0].lines[0].get_label() == 'a'",
    ),
    "plotly": (
        "import numpy as np\n"
        "import plotly.graph_objects as go\n"
        "from plotly.subplots import make_subplots\n"
        "scatter = go.Figure(go.Scatter(x=[1, 2, 3], y=[2, 1, 3]))\n"
        "scatter.update_layout(title='t')\n"
        "heat = go.Figure(go.Heatmap(z=np.arange(6.0).reshape(2, 3)))\n"
        "sub = make_subplots(rows=1, cols=2)\n"
        "sub.add_trace(go.Bar(x=[1], y=[2]), row=1, col=2)\n",
        "scatter.layout.title.text == 't' and len(sub.data) == 1 and repr(heat)",
    ),
    "flag": (
        "from enum import Flag, IntEnum\n"
        "class Level(IntEnum):\n"
        "    LOW = 1\n"
        "    HIGH = 2\n"
        "class Perm(Flag):\n"
        "    R = 4\n"
        "    W = 2\n"
        "    X = 1\n"
        "level = Level.HIGH\n"
        "perm = Perm.R | Perm.W\n"
        "perm |= Perm.X\n",
        "Perm.X in perm and (Perm.R | Perm.X).value == 5 and level is Level.HIGH",
    ),
    "xarray": (
        "import numpy as np\n"
        "import xarray as xr\n"
        "da = xr.DataArray(np.arange(6.0).reshape(2, 3), dims=('y', 'x'),\n"
        "                  coords={'x': [10, 20, 30]}, attrs={'units': 'm'})\n"
        "ds = xr.Dataset({'t': ('x', np.arange(4.0)), 'g': ('x', [0, 1, 0, 1])})\n",
        "da.identical(da.copy()) and ds.identical(ds.copy()) and da.x.attrs == {}",
    ),
    "networkx": (
        "import networkx as nx\ndg = nx.DiGraph([(1, 2), (2, 3)])\ng = nx.karate_club_graph()\n",
        "list(nx.topological_sort(dg)) == [1, 2, 3] and len(g.nodes) == 34 and g.degree[0] > 0",
    ),
}

# Modules a case imports: the case is skipped where one is not installed.
REQUIRES: dict[str, tuple[str, ...]] = {
    "torch": ("torch",),
    "matplotlib": ("matplotlib",),
    "plotly": ("plotly", "numpy"),
    "xarray": ("xarray", "numpy"),
    "networkx": ("networkx",),
}
