"""Cases for the language: functions and closures, functools, and generators and other
resources that cannot be checkpointed (each a declared, named loss)."""

from __future__ import annotations

from .model import Group, case

FUNCTIONS = (
    case(
        "fn_closure",
        "closures & functions",
        (),
        "def make_counter():\n    n = 0\n    def inc():\n        nonlocal n\n        n += 1\n"
        "        return n\n    return inc\nfn_counter = make_counter()\nfn_counter()",
        "fn_counter()",
        compare=["fn_counter"],
        checks=["fn_counter.__closure__[0].cell_contents == 2"],
    ),
    case(
        "fn_lambda",
        "closures & functions",
        (),
        "fn_sq = lambda v: v * v",
        "fn_ops = [fn_sq, lambda v: v + 1]",
        compare=["fn_sq(4)", "[f(2) for f in fn_ops]"],
        checks=["fn_ops[0] is fn_sq"],
    ),
    case(
        "fn_mutable_default",
        "closures & functions",
        (),
        "def fn_acc(v, acc=[]):\n    acc.append(v)\n    return acc\nfn_acc(1)",
        "fn_acc(2)",
        compare=["fn_acc.__defaults__"],
    ),
    case(
        "fn_recursive",
        "closures & functions",
        (),
        "def fn_fact(n):\n    return 1 if n < 2 else n * fn_fact(n - 1)",
        "fn_facts = [fn_fact(i) for i in range(6)]",
        compare=["fn_fact(7)", "fn_facts"],
    ),
    case(
        "fn_global_reader",
        "closures & functions",
        (),
        "fn_rate = 2\ndef fn_apply(v):\n    return v * fn_rate",
        "fn_rate = 3\nfn_applied = fn_apply(2)",
        compare=["fn_apply(5)", "fn_applied"],
    ),
    case(
        "fn_bound_method",
        "closures & functions",
        (),
        "class FnAcc:\n    def __init__(self):\n        self.total = 0\n"
        "    def add(self, v):\n        self.total += v\nfn_bound = FnAcc().add",
        "fn_bound(5)",
        compare=["fn_bound.__self__.total"],
        checks=["isinstance(fn_bound.__self__, FnAcc)"],
    ),
    case(
        "fn_async_def",
        "closures & functions",
        (),
        "async def fn_coro_f(v):\n    return v + 1",
        "fn_flags = fn_coro_f.__code__.co_flags",
        compare=["fn_coro_f", "fn_flags"],
    ),
)

FUNCTOOLS = (
    case(
        "ft_wraps",
        "functools",
        (),
        "import functools\ndef twice(f):\n    @functools.wraps(f)\n    def inner(*a):\n"
        "        return 2 * f(*a)\n    return inner\n@twice\ndef ft_dec(v):\n    return v + 1",
        "ft_dec.calls = 0",
        compare=["ft_dec(3)", "ft_dec.__wrapped__(3)", "ft_dec.__name__"],
    ),
    case(
        "ft_partial_builtin",
        "functools",
        (),
        "import functools\nft_p = functools.partial(int, base=2)",
        "ft_pp = functools.partial(ft_p, '101')",
        compare=["ft_p", "ft_p('1010')", "ft_pp()"],
    ),
    case(
        "ft_partial_notebook",
        "functools",
        (),
        "import functools\ndef ft_power(b, e):\n    return b ** e\n"
        "ft_sq = functools.partial(ft_power, e=2)",
        "ft_sq.keywords['e'] = 3",
        compare=["ft_sq(2)", "ft_sq"],
    ),
    case(
        "ft_lru_cache",
        "functools",
        (),
        "import functools\n@functools.lru_cache(maxsize=8)\ndef ft_fib(n):\n"
        "    return n if n < 2 else ft_fib(n - 1) + ft_fib(n - 2)\nft_f10 = ft_fib(10)",
        "ft_f20 = ft_fib(20)",
        compare=["ft_f10", "ft_f20", "ft_fib.__wrapped__(12)"],
    ),
    case(
        "ft_reduce_result",
        "functools",
        (),
        "import functools\nimport operator\nft_total = functools.reduce(operator.mul, range(1, 6))",
        "ft_cmp = sorted(['bb', 'a', 'ccc'], key=functools.cmp_to_key(lambda x, "
        "y: len(x) - len(y)))",
        compare=["ft_total", "ft_cmp"],
    ),
)

RESOURCES = (
    case(
        "gen_expression",
        "generators & resources",
        (),
        "fn_gen = (i * i for i in range(5))\nfn_first = next(fn_gen)",
        "fn_seen = [fn_first, 99]",
        compare=["fn_first", "fn_seen"],
        lost=["fn_gen"],
    ),
    case(
        "gen_function",
        "generators & resources",
        (),
        "def countdown(n):\n    while n:\n        yield n\n        n -= 1\nfn_cd = countdown(3)",
        "fn_cd_list = list(countdown(4))",
        compare=["list(countdown(2))", "fn_cd_list"],
        lost=["fn_cd"],
    ),
    case(
        "gen_itertools",
        "generators & resources",
        (),
        "import itertools\nfn_it = itertools.count(5)\nfn_it_first = next(fn_it)",
        "fn_it_second = next(fn_it)",
        compare=["fn_it_first", "fn_it_second"],
    ),
    case(
        "res_open_file",
        "generators & resources",
        (),
        "fn_fh = open('res_file.txt', 'w')\nfn_fh.write('a')",
        "fn_fh_name = 'res_file.txt'",
        compare=["fn_fh_name"],
        lost=["fn_fh"],
    ),
    case(
        "res_socket",
        "generators & resources",
        (),
        "import socket\nfn_sock = socket.socket()",
        "fn_sock_note = 'unconnected'",
        compare=["fn_sock_note"],
        lost=["fn_sock"],
    ),
    case(
        "res_lock",
        "generators & resources",
        (),
        "import threading\nfn_lock = threading.Lock()",
        "fn_lock_note = 'held by nobody'",
        compare=["fn_lock_note"],
        lost=["fn_lock"],
    ),
    case(
        "res_sqlite",
        "generators & resources",
        (),
        "import sqlite3\nfn_db = sqlite3.connect(':memory:')",
        "fn_db_note = 'in memory'",
        compare=["fn_db_note"],
        lost=["fn_db"],
    ),
    case(
        "res_re_match",
        "generators & resources",
        (),
        "import re\nfn_m = re.match(r'(\\d+)', '42abc')",
        "fn_m_note = 'matched'",
        compare=["fn_m_note"],
        lost=["fn_m"],
    ),
)

GROUPS = (Group("python", FUNCTIONS + FUNCTOOLS + RESOURCES),)
