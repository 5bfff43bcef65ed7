"""Cases for classes defined in the notebook: dataclasses, attrs, pydantic, enums,
NamedTuple, TypedDict and plain classes. After a resume, instances must still be instances
of the class the namespace holds (class identity via isinstance)."""

from __future__ import annotations

from .model import Group, case

CLASSES = (
    case(
        "cls_dataclass",
        "dataclasses",
        (),
        "from dataclasses import dataclass\n@dataclass\nclass Point:\n"
        "    x: float\n    y: float = 0.0\n    def norm2(self):\n"
        "        return self.x ** 2 + self.y ** 2\n"
        "cls_pt = Point(1.0, 2.0)",
        "cls_pt.x = 5.0",
        compare=["cls_pt", "cls_pt.norm2()", "Point(3.0, 4.0).norm2()"],
        checks=["isinstance(cls_pt, Point)", "type(cls_pt) is Point"],
    ),
    case(
        "cls_frozen_dataclass",
        "dataclasses",
        (),
        "import dataclasses\n@dataclasses.dataclass(frozen=True)\nclass Frozen:\n"
        "    n: int\n    tags: tuple = ()\ncls_fz = Frozen(1, ('a',))",
        "cls_fz = dataclasses.replace(cls_fz, n=2)",
        compare=["cls_fz", "hash(cls_fz)"],
        checks=["isinstance(cls_fz, Frozen)"],
    ),
    case(
        "cls_dataclass_factory",
        "dataclasses",
        (),
        "from dataclasses import dataclass, field\n@dataclass\nclass Leaf:\n    v: int\n"
        "@dataclass\nclass Tree:\n    leaves: list = field(default_factory=list)\n"
        "cls_tree = Tree([Leaf(1)])",
        "cls_tree.leaves.append(Leaf(2))",
        compare=["cls_tree", "Tree()"],
        checks=["isinstance(cls_tree.leaves[1], Leaf)", "isinstance(cls_tree, Tree)"],
    ),
    case(
        "cls_attrs",
        "attrs",
        ("attrs",),
        "import attrs\n@attrs.define\nclass Box:\n    w: int\n    h: int = attrs.field(default=1)\n"
        "cls_box = Box(2)",
        "cls_box.h = 5",
        compare=["cls_box", "attrs.asdict(cls_box)"],
        checks=["isinstance(cls_box, Box)"],
    ),
    case(
        "cls_attrs_frozen",
        "attrs",
        ("attrs",),
        "import attrs\n@attrs.frozen\nclass Tag:\n    name: str\ncls_tags = [Tag('a')]",
        "cls_tags.append(Tag('b'))",
        compare=["cls_tags"],
        checks=["all(isinstance(t, Tag) for t in cls_tags)"],
    ),
    case(
        "cls_pydantic",
        "pydantic",
        ("pydantic",),
        "from pydantic import BaseModel\nclass User(BaseModel):\n    name: str\n    age: int = 0\n"
        "cls_user = User(name='ada', age=36)",
        "cls_user.age = 37",
        compare=["cls_user", "cls_user.model_dump()"],
        checks=["isinstance(cls_user, User)"],
    ),
    case(
        "cls_pydantic_nested",
        "pydantic",
        ("pydantic",),
        "from pydantic import BaseModel, Field, field_validator\n"
        "class Item(BaseModel):\n    sku: str\n    qty: int = Field(ge=0)\n"
        "    @field_validator('sku')\n    @classmethod\n    def upper(cls, v):\n"
        "        return v.upper()\n"
        "class Order(BaseModel):\n    items: list[Item] = []\n"
        "cls_order = Order(items=[Item(sku='ab', qty=1)])",
        "cls_order.items.append(Item(sku='cd', qty=2))",
        compare=["cls_order", "Item(sku='x', qty=0)"],
        checks=["isinstance(cls_order.items[1], Item)", "isinstance(cls_order, Order)"],
    ),
    case(
        "cls_enum",
        "enum",
        (),
        "from enum import Enum\nclass Color(Enum):\n    RED = 1\n    GREEN = 2\n"
        "cls_color = Color.RED\ncls_colors = [Color.RED, Color.GREEN]",
        "cls_colors.append(Color.GREEN)",
        compare=["cls_color", "cls_colors"],
        checks=[
            "cls_color is Color.RED",
            "cls_colors[1] is cls_colors[2]",
            "isinstance(cls_color, Color)",
        ],
    ),
    case(
        "cls_intenum_flag",
        "enum",
        (),
        "from enum import Flag, IntEnum\nclass Level(IntEnum):\n    LOW = 1\n    HIGH = 2\n"
        "class Perm(Flag):\n    R = 4\n    W = 2\n    X = 1\n"
        "cls_level = Level.HIGH\ncls_perm = Perm.R | Perm.W",
        "cls_perm |= Perm.X",
        compare=["cls_level", "cls_perm"],
        checks=["cls_level is Level.HIGH", "Perm.X in cls_perm"],
    ),
    case(
        "cls_namedtuple",
        "NamedTuple & TypedDict",
        (),
        "from typing import NamedTuple\nclass Pair(NamedTuple):\n    a: int\n    b: str = 'x'\n"
        "cls_pairs = [Pair(1)]",
        "cls_pairs.append(Pair(2, 'y'))",
        compare=["cls_pairs", "cls_pairs[1]._asdict()"],
        checks=["isinstance(cls_pairs[0], Pair)"],
    ),
    case(
        "cls_collections_namedtuple",
        "NamedTuple & TypedDict",
        (),
        "from collections import namedtuple\nCoord = namedtuple('Coord', 'lat lon')\n"
        "cls_coord = Coord(52.5, 13.4)",
        "cls_coord = cls_coord._replace(lon=0.0)",
        compare=["cls_coord"],
        checks=["isinstance(cls_coord, Coord)"],
    ),
    case(
        "cls_typeddict",
        "NamedTuple & TypedDict",
        (),
        "from typing import TypedDict\nclass Movie(TypedDict):\n    title: str\n    year: int\n"
        "cls_movie: Movie = {'title': 'x', 'year': 1999}",
        "cls_movie['year'] = 2001",
        compare=["cls_movie", "Movie.__annotations__", "Movie.__required_keys__"],
    ),
    case(
        "cls_plain",
        "notebook classes",
        (),
        "class Account:\n    bank = 'b1'\n    def __init__(self, owner):\n"
        "        self.owner, self.balance = owner, 0\n"
        "    def deposit(self, v):\n        self.balance += v\n        return self\n"
        "cls_acct = Account('ann').deposit(10)",
        "cls_acct.deposit(5)\nAccount.bank = 'b2'",
        compare=["cls_acct", "Account.bank", "cls_acct.balance"],
        checks=["isinstance(cls_acct, Account)"],
    ),
    case(
        "cls_slots",
        "notebook classes",
        (),
        "class Slotted:\n    __slots__ = ('a', 'b')\n    def __init__(self):\n"
        "        self.a, self.b = 1, [2]\ncls_sl = Slotted()",
        "cls_sl.b.append(3)",
        compare=["cls_sl", "cls_sl.b"],
        checks=["isinstance(cls_sl, Slotted)"],
    ),
    case(
        "cls_inheritance",
        "notebook classes",
        (),
        "class Animal:\n    def describe(self):\n"
        "        return f'{type(self).__name__}:{self.sound()}'\n"
        "    def sound(self):\n        return '...'\n"
        "class Dog(Animal):\n    def sound(self):\n        return 'woof'\n"
        "cls_dog = Dog()",
        "cls_dog.name = 'rex'",
        compare=["cls_dog", "cls_dog.describe()"],
        checks=[
            "isinstance(cls_dog, Dog)",
            "isinstance(cls_dog, Animal)",
            "issubclass(Dog, Animal)",
        ],
    ),
    case(
        "cls_registry",
        "notebook classes",
        (),
        "class Shape:\n    sides = 0\ncls_reg = {'shape': Shape}",
        "cls_reg['again'] = Shape",
        compare=["cls_reg"],
        checks=["cls_reg['shape'] is Shape", "cls_reg['again'] is cls_reg['shape']"],
    ),
    case(
        "cls_descriptors",
        "notebook classes",
        (),
        "class Temp:\n    def __init__(self, c):\n        self.c = c\n"
        "    @property\n    def f(self):\n        return self.c * 9 / 5 + 32\n"
        "    @classmethod\n    def freezing(cls):\n        return cls(0)\n"
        "    @staticmethod\n    def unit():\n        return 'C'\n"
        "cls_temp = Temp.freezing()",
        "cls_temp.c = 100",
        compare=["cls_temp", "cls_temp.f", "Temp.unit()"],
        checks=["isinstance(cls_temp, Temp)"],
    ),
    case(
        "cls_hash_keys",
        "notebook classes",
        (),
        "class Key:\n    def __init__(self, k):\n        self.k = k\n"
        "    def __eq__(self, other):\n"
        "        return isinstance(other, Key) and self.k == other.k\n"
        "    def __hash__(self):\n        return hash(self.k)\n"
        "cls_map = {Key(1): 'a'}",
        "cls_map[Key(2)] = 'b'",
        compare=["sorted(k.k for k in cls_map)", "cls_map[Key(1)]"],
        checks=["all(isinstance(k, Key) for k in cls_map)"],
    ),
)

GROUPS = (Group("classes", CLASSES),)
