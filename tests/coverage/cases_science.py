"""Cases for scientific libraries: scipy (sparse, stats, fits), networkx, sympy."""

from __future__ import annotations

from .model import Group, case

SP = ("numpy", "scipy")
SCIPY = (
    case(
        "sp_csr",
        "scipy",
        SP,
        "from scipy import sparse\n"
        "sp_csr = sparse.random(50, 40, density=0.1, format='csr', random_state=0)",
        "sp_csr.data[:3] = -1.0",
        compare=["sp_csr"],
    ),
    case(
        "sp_csc",
        "scipy",
        SP,
        "import numpy as np\nfrom scipy import sparse\nsp_csc = sparse.csc_matrix(np.eye(5) * 2)",
        "sp_csc.data *= 3",
        compare=["sp_csc"],
    ),
    case(
        "sp_coo",
        "scipy",
        SP,
        "from scipy import sparse\n"
        "sp_coo = sparse.coo_matrix(([1, 2], ([0, 1], [1, 0])), shape=(3, 3))",
        "sp_coo.data[0] = 10",
        compare=["sp_coo"],
    ),
    case(
        "sp_lil",
        "scipy",
        SP,
        "from scipy import sparse\nsp_lil = sparse.lil_matrix((4, 4))\nsp_lil[0, 1] = 2",
        "sp_lil[3, 3] = 7",
        compare=["sp_lil"],
    ),
    case(
        "sp_sparray",
        "scipy",
        SP,
        "import numpy as np\nfrom scipy import sparse\nsp_arr = sparse.csr_array(np.eye(4))",
        "sp_arr.data *= 3",
        compare=["sp_arr"],
    ),
    case(
        "sp_frozen_dist",
        "scipy",
        SP,
        "from scipy import stats\nsp_norm = stats.norm(loc=1.0, scale=2.0)",
        "sp_gamma = stats.gamma(a=2.0)",
        compare=["sp_norm", "sp_gamma", "sp_norm.cdf(0.5)"],
    ),
    case(
        "sp_ttest",
        "scipy",
        SP,
        "from scipy import stats\nsp_tt = stats.ttest_ind([1, 2, 3, 4], [2, 3, 5, 7])",
        "sp_tt_list = [sp_tt, float(sp_tt.pvalue)]",
        compare=["sp_tt", "sp_tt_list"],
    ),
    case(
        "sp_kde",
        "scipy",
        SP,
        "import numpy as np\nfrom scipy import stats\n"
        "sp_kde = stats.gaussian_kde(np.array([0.0, 1.0, 1.5, 3.0]))",
        "sp_kde.set_bandwidth(0.5)",
        compare=["sp_kde", "sp_kde(np.array([0.5, 1.0]))"],
    ),
    case(
        "sp_interp",
        "scipy",
        SP,
        "from scipy import interpolate\nsp_interp = interpolate.interp1d([0, 1, 2], [0, 1, 4])",
        "sp_interp_vals = sp_interp([0.5, 1.5])",
        compare=["sp_interp([0.25])", "sp_interp_vals"],
    ),
    case(
        "sp_optimize",
        "scipy",
        SP,
        "from scipy import optimize\n"
        "sp_opt = optimize.minimize(lambda v: (v[0] - 1) ** 2, x0=[0.0])",
        "sp_opt['note'] = 'converged'",
        compare=["sp_opt.x", "sp_opt['note']", "sp_opt.success"],
    ),
)

NX = ("networkx",)
NETWORKX = (
    case(
        "nx_graph",
        "networkx",
        NX,
        "import networkx as nx\nnx_g = nx.Graph(name='g')\nnx_g.add_edge('a', 'b', weight=2.5)\n"
        "nx_g.nodes['a']['color'] = 'red'",
        "nx_g.add_edge('b', 'c', weight=1.0)\nnx_g.nodes['a']['color'] = 'blue'",
        compare=["nx_g"],
    ),
    case(
        "nx_digraph",
        "networkx",
        NX,
        "import networkx as nx\nnx_dg = nx.DiGraph([(1, 2), (2, 3), (3, 1)])",
        "nx_dg.remove_edge(3, 1)",
        compare=["nx_dg", "list(nx.topological_sort(nx_dg))"],
    ),
    case(
        "nx_multigraph",
        "networkx",
        NX,
        "import networkx as nx\nnx_mg = nx.MultiGraph()\nnx_mg.add_edge(1, 2, key='x')\n"
        "nx_mg.add_edge(1, 2, key='y', w=3)",
        "nx_mg.add_edge(2, 3)",
        compare=["nx_mg"],
    ),
    case(
        "nx_karate",
        "networkx",
        NX,
        "import networkx as nx\nnx_kc = nx.karate_club_graph()",
        "nx_kc.graph['seen'] = True\nnx_kc.remove_node(33)",
        compare=["nx_kc"],
    ),
    case(
        "nx_paths",
        "networkx",
        NX,
        "import networkx as nx\nnx_grid = nx.grid_2d_graph(3, 3)",
        "nx_sp = dict(nx.shortest_path_length(nx_grid, source=(0, 0)))",
        compare=["nx_grid", "nx_sp"],
    ),
    case(
        "nx_object_nodes",
        "networkx",
        NX,
        "import networkx as nx\nnx_on = nx.Graph()\nnx_on.add_edge(frozenset({1, 2}), (3, 'x'))",
        "nx_on.add_node('solo', kind='str')",
        compare=["nx_on"],
    ),
)

SY = ("sympy",)
SYMPY = (
    case(
        "sy_expr",
        "sympy",
        SY,
        "import sympy\nsy_x, sy_y = sympy.symbols('x y')\nsy_e = (sy_x + sy_y) ** 2",
        "sy_e = sympy.expand(sy_e)",
        compare=["sy_e", "sy_x"],
    ),
    case(
        "sy_assumptions",
        "sympy",
        SY,
        "import sympy\nsy_p = sympy.Symbol('p', positive=True)\nsy_sq = sympy.sqrt(sy_p ** 2)",
        "sy_sq = sy_sq + 1",
        compare=["sy_p", "sy_sq"],
        checks=["sy_sq == sy_p + 1"],
    ),
    case(
        "sy_matrix",
        "sympy",
        SY,
        "import sympy\nsy_M = sympy.Matrix([[1, 2], [3, 4]])",
        "sy_M[0, 0] = sympy.Symbol('z')",
        compare=["sy_M", "sy_M.shape"],
    ),
    case(
        "sy_solve",
        "sympy",
        SY,
        "import sympy\nsy_s = sympy.Symbol('s')\nsy_sol = sympy.solve(sy_s ** 2 - 4, sy_s)",
        "sy_sol.append(sympy.Integer(0))",
        compare=["sy_sol"],
    ),
    case(
        "sy_eq",
        "sympy",
        SY,
        "import sympy\nsy_q = sympy.Symbol('q')\nsy_eq = sympy.Eq(sy_q + 1, 3)",
        "sy_eqs = [sy_eq, sympy.Eq(sy_q, 2)]",
        compare=["sy_eq", "sy_eqs"],
    ),
    case(
        "sy_poly",
        "sympy",
        SY,
        "import sympy\nsy_t = sympy.Symbol('t')\nsy_poly = sympy.Poly(sy_t ** 3 - 2 * sy_t, sy_t)",
        "sy_poly = sy_poly * 2",
        compare=["sy_poly", "sy_poly.all_coeffs()"],
    ),
    case(
        "sy_integral",
        "sympy",
        SY,
        "import sympy\nsy_u = sympy.Symbol('u')\n"
        "sy_int = sympy.Integral(sympy.sin(sy_u), (sy_u, 0, sympy.pi))",
        "sy_int_val = sy_int.doit()",
        compare=["sy_int", "sy_int_val"],
    ),
    case(
        "sy_lambdify",
        "sympy",
        SY,
        "import sympy\nsy_v = sympy.Symbol('v')\nsy_f = sympy.lambdify(sy_v, sy_v ** 2 + 1)",
        "sy_f_vals = [sy_f(i) for i in range(3)]",
        compare=["sy_f(3)", "sy_f_vals"],
    ),
)

GROUPS = (Group("scipy-networkx-sympy", SCIPY + NETWORKX + SYMPY),)
