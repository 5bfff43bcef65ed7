"""Cases for numpy: dtypes (structured, nested, object, strings, datetimes), memory layouts
(views, non-contiguous, transposed, Fortran, broadcast), memmaps, masked arrays and random
generators."""

from __future__ import annotations

from .model import Group, case

NP = ("numpy",)

NUMPY = (
    case(
        "np_float",
        "numpy",
        NP,
        "import numpy as np\nnp_f = np.linspace(0, 1, 12).reshape(3, 4)",
        "np_f[1, :] *= -2.5",
        compare=["np_f", "np_f.sum()"],
    ),
    case(
        "np_big",
        "numpy",
        NP,
        "import numpy as np\nnp_big = np.arange(1_000_000, dtype=np.int64)",
        "np_big[::1000] = -1",
        compare=["np_big"],
    ),
    case(
        "np_structured",
        "numpy",
        NP,
        "import numpy as np\n"
        "np_rec = np.array([(1, 2.5, b'ab'), (2, -1.0, b'cd')],\n"
        "                  dtype=[('id', '<i4'), ('score', '<f8'), ('tag', 'S3')])",
        "np_rec['score'][1] = 9.5",
        compare=["np_rec", "np_rec['tag']"],
    ),
    case(
        "np_nested_struct",
        "numpy",
        NP,
        "import numpy as np\n"
        "np_pos = np.zeros(3, dtype=[('pos', [('x', 'f4'), ('y', 'f4')]), ('n', 'u2', (2,))])",
        "np_pos['pos']['y'][2] = 7.0\nnp_pos['n'][0] = (1, 2)",
        compare=["np_pos"],
    ),
    case(
        "np_view",
        "numpy",
        NP,
        "import numpy as np\nnp_base = np.arange(10.0)\nnp_view = np_base[2:8]",
        "np_base[3] = 99.0",
        compare=["np_base", "np_view"],
        # Sharing is of memory: after a restore, `.base` is the array that maps the
        # stored buffer (numpy points a view at the owner of its memory).
        checks=["np.shares_memory(np_view, np_base)", "np_view.base is not None"],
    ),
    case(
        "np_noncontig",
        "numpy",
        NP,
        "import numpy as np\nnp_nc = np.arange(60.0).reshape(6, 10)[::2, ::3]",
        "np_nc[0, 0] = -1.0",
        compare=["np_nc"],
    ),
    case(
        "np_transposed",
        "numpy",
        NP,
        "import numpy as np\nnp_t = np.arange(12).reshape(3, 4).T",
        "np_t[0, 1] += 100",
        compare=["np_t"],
    ),
    case(
        "np_fortran",
        "numpy",
        NP,
        "import numpy as np\nnp_fo = np.asfortranarray(np.ones((50, 40)))",
        "np_fo[:, 0] = 7.0",
        compare=["np_fo"],
        checks=["np_fo.flags.f_contiguous"],
    ),
    case(
        "np_broadcast",
        "numpy",
        NP,
        "import numpy as np\nnp_bc = np.broadcast_to(np.arange(3), (4, 3))",
        "np_bc = np.broadcast_to(np.arange(5), (2, 5))",
        compare=["np_bc"],
    ),
    case(
        "np_memmap",
        "numpy",
        NP,
        "import numpy as np\n"
        "np_mm = np.memmap('np_mm.dat', dtype='float32', mode='w+', shape=(4, 5))\n"
        "np_mm[:] = 1.5",
        "np_mm[0] = 3.0\nnp_mm.flush()",
        compare=["np_mm"],
        checks=["isinstance(np_mm, np.memmap)"],
    ),
    case(
        "np_generator",
        "numpy",
        NP,
        "import numpy as np\nnp_rng = np.random.default_rng(42)\nnp_draw = np_rng.normal(size=3)",
        "np_draw2 = np_rng.integers(0, 100, size=5)",
        compare=["np_rng", "np_draw", "np_draw2"],
    ),
    case(
        "np_randomstate",
        "numpy",
        NP,
        "import numpy as np\nnp_rs = np.random.RandomState(7)\nnp_rs_a = np_rs.rand(2)",
        "np_rs_b = np_rs.randint(0, 10, 3)",
        compare=["np_rs", "np_rs_a", "np_rs_b"],
    ),
    case(
        "np_masked",
        "numpy",
        NP,
        "import numpy as np\nnp_ma = np.ma.masked_array([1.0, 2.0, 3.0, 4.0], mask=[0, 1, 0, 0])",
        "np_ma[2] = np.ma.masked",
        compare=["np_ma", "np_ma.sum()"],
    ),
    case(
        "np_datetime64",
        "numpy",
        NP,
        "import numpy as np\nnp_dt = np.array(['2024-01-01', '2024-03-01'], dtype='datetime64[D]')",
        "np_dt += np.timedelta64(1, 'D')",
        compare=["np_dt"],
    ),
    case(
        "np_object",
        "numpy",
        NP,
        "import numpy as np\nnp_obj = np.array([1, 'a', None, [1, 2]], dtype=object)",
        "np_obj[3].append(3)",
        compare=["np_obj"],
    ),
    case(
        "np_scalars",
        "numpy",
        NP,
        "import numpy as np\nnp_s = np.float32(1.5)\nnp_0d = np.array(3.25)",
        "np_0d[...] = 4.5\nnp_s = np_s * np.float32(2)",
        compare=["np_s", "np_0d"],
    ),
    case(
        "np_complex_nan",
        "numpy",
        NP,
        "import numpy as np\nnp_c = np.array([1 + 2j, np.nan, np.inf])",
        "np_c[0] = complex(np.nan, 1.0)",
        compare=["np_c"],
    ),
    case(
        "np_stringdtype",
        "numpy",
        NP,
        "import numpy as np\nnp_str = np.array(['a', 'bc', 'def'], dtype=np.dtypes.StringDType())",
        "np_str[0] = 'zz'",
        compare=["np_str"],
    ),
    case(
        "np_recarray",
        "numpy",
        NP,
        "import numpy as np\nnp_ra = np.rec.fromarrays([[1, 2], [3.0, 4.0]], names='a,b')",
        "np_ra.a[0] = 10",
        compare=["np_ra", "np_ra.b"],
    ),
)


GROUPS = (Group("numpy", NUMPY),)
