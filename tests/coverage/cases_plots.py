"""Cases for plotting libraries: matplotlib, seaborn, plotly."""

from __future__ import annotations

from .model import Group, case

MPL = ("numpy", "matplotlib")
_FIG = "from matplotlib.figure import Figure\n"
MATPLOTLIB = (
    case(
        "mpl_line",
        "matplotlib",
        MPL,
        _FIG + "mpl_fig = Figure(figsize=(4, 3))\nmpl_ax = mpl_fig.add_subplot()\n"
        "mpl_ax.plot([0, 1, 2], [1, 3, 2], color='C1', label='a')",
        "mpl_ax.set_title('after')\nmpl_ax.set_xlabel('x')\nmpl_ax.lines[0].set_linewidth(3)",
        compare=["mpl_fig", "mpl_ax"],
        checks=["mpl_ax.figure is mpl_fig", "mpl_fig.axes[0] is mpl_ax"],
    ),
    case(
        "mpl_pyplot",
        "matplotlib",
        MPL,
        "import matplotlib.pyplot as plt\nmpl_pfig, mpl_pax = plt.subplots(2, 1, figsize=(3, 3))\n"
        "mpl_pax[1].plot([1, 2, 3])",
        "mpl_pax[0].bar([1, 2], [3, 4])\nmpl_pfig.suptitle('sup')",
        compare=["mpl_pfig", "list(mpl_pax)"],
        checks=["mpl_pax[0].figure is mpl_pfig"],
    ),
    case(
        "mpl_normalize",
        "matplotlib",
        MPL,
        "from matplotlib.colors import Normalize\nmpl_norm = Normalize(vmin=0, vmax=10)",
        "mpl_norm.vmax = 20\nmpl_norm.clip = True",
        compare=["mpl_norm"],
    ),
    case(
        "mpl_lognorm",
        "matplotlib",
        MPL,
        "from matplotlib.colors import LogNorm\nmpl_log = LogNorm(vmin=1, vmax=100)",
        "mpl_log.vmin = 10",
        compare=["mpl_log"],
    ),
    case(
        "mpl_cmap",
        "matplotlib",
        MPL,
        "from matplotlib.colors import ListedColormap\n"
        "mpl_cmap = ListedColormap(['red', 'green', 'blue'], name='rgb')",
        "mpl_cmap = mpl_cmap.with_extremes(bad='black')",
        compare=["mpl_cmap"],
    ),
    case(
        "mpl_rectangle",
        "matplotlib",
        MPL,
        "from matplotlib.patches import Rectangle\n"
        "mpl_rect = Rectangle((0, 0), 2, 1, facecolor='red')",
        "mpl_rect.set_width(3)\nmpl_rect.set_xy((1, 1))",
        compare=["mpl_rect"],
    ),
    case(
        "mpl_circle",
        "matplotlib",
        MPL,
        "from matplotlib.patches import Circle\nmpl_circ = Circle((0.5, 0.5), 0.25, edgecolor='k')",
        "mpl_circ.set_radius(0.4)",
        compare=["mpl_circ"],
    ),
    case(
        "mpl_polygon_on_axes",
        "matplotlib",
        MPL,
        _FIG + "from matplotlib.patches import Polygon\nmpl_pfig2 = Figure()\n"
        "mpl_pax2 = mpl_pfig2.add_subplot()\nmpl_poly = Polygon([[0, 0], [1, 0], [0, 1]])\n"
        "mpl_pax2.add_patch(mpl_poly)",
        "mpl_poly.set_xy([[0, 0], [2, 0], [0, 2]])",
        compare=["mpl_pfig2", "mpl_poly"],
        checks=["mpl_pax2.patches[0] is mpl_poly"],
    ),
    case(
        "mpl_imshow",
        "matplotlib",
        MPL,
        _FIG + "import numpy as np\nmpl_ifig = Figure()\n"
        "mpl_im = mpl_ifig.add_subplot().imshow(np.arange(12.0).reshape(3, 4))",
        "mpl_im.set_data(np.ones((3, 4)))",
        compare=["mpl_ifig"],
    ),
    case(
        "mpl_scatter",
        "matplotlib",
        MPL,
        _FIG + "mpl_sfig = Figure()\nmpl_sc = mpl_sfig.add_subplot().scatter([1, 2, 3], [3, 1, 2])",
        "mpl_sc.set_offsets([[0, 0], [1, 1], [2, 2]])",
        compare=["mpl_sfig", "mpl_sc"],
    ),
    case(
        "mpl_text_legend",
        "matplotlib",
        MPL,
        _FIG + "mpl_tfig = Figure()\nmpl_tax = mpl_tfig.add_subplot()\n"
        "mpl_tax.plot([1, 2], label='one')\nmpl_tax.text(0.5, 0.5, 'note')",
        "mpl_tax.legend()\nmpl_tax.texts[0].set_text('changed')",
        compare=["mpl_tfig"],
    ),
    case(
        "mpl_shared_axes",
        "matplotlib",
        MPL,
        _FIG + "mpl_shfig = Figure()\nmpl_sh = mpl_shfig.subplots(1, 2, sharey=True)",
        "mpl_sh[0].set_ylim(0, 5)\nmpl_sh[1].set_yscale('log')",
        compare=["mpl_shfig"],
        checks=["mpl_sh[0].get_shared_y_axes().joined(mpl_sh[0], mpl_sh[1])"],
    ),
)

SNS = ("numpy", "pandas", "matplotlib", "seaborn")
_SNS = "import pandas as pd\nimport seaborn as sns\n"
SEABORN = (
    case(
        "sns_histplot",
        "seaborn",
        SNS,
        _SNS + "sns_df = pd.DataFrame({'v': [1, 2, 2, 3, 3, 3, 4]})\n"
        "sns_ax = sns.histplot(data=sns_df, x='v', bins=4)",
        "sns_ax.set_title('hist')",
        compare=["sns_ax", "sns_df"],
    ),
    case(
        "sns_palette",
        "seaborn",
        SNS,
        _SNS + "sns_pal = sns.color_palette('viridis', 4)",
        "sns_pal.append((0.0, 0.0, 0.0))",
        compare=["sns_pal"],
    ),
    case(
        "sns_facetgrid",
        "seaborn",
        SNS,
        _SNS + "import matplotlib.pyplot as plt\n"
        "sns_fd = pd.DataFrame({'x': [1, 2, 3, 4], 'y': [4, 3, 2, 1], 'g': list('abab')})\n"
        "sns_grid = sns.FacetGrid(sns_fd, col='g')\nsns_grid.map(plt.scatter, 'x', 'y')",
        "sns_grid.set_titles('{col_name}')",
        compare=["sns_grid"],
    ),
    case(
        "sns_heatmap",
        "seaborn",
        SNS,
        _SNS + "import numpy as np\nsns_hm = sns.heatmap(np.arange(9).reshape(3, 3), annot=True)",
        "sns_hm.set_xlabel('cols')",
        compare=["sns_hm"],
    ),
    case(
        "sns_relplot",
        "seaborn",
        SNS,
        _SNS + "sns_rd = pd.DataFrame({'a': [1, 2, 3], 'b': [2, 4, 1]})\n"
        "sns_rel = sns.relplot(data=sns_rd, x='a', y='b')",
        "sns_rel.set_axis_labels('A', 'B')",
        compare=["sns_rel"],
    ),
)

PL = ("plotly",)
PLOTLY = (
    case(
        "ply_scatter",
        "plotly",
        PL,
        "import plotly.graph_objects as go\n"
        "ply_fig = go.Figure(go.Scatter(x=[1, 2, 3], y=[2, 1, 3]))",
        "ply_fig.update_layout(title='t')",
        compare=["ply_fig"],
    ),
    case(
        "ply_express",
        "plotly",
        (*PL, "pandas"),
        "import pandas as pd\nimport plotly.express as px\n"
        "ply_px = px.bar(pd.DataFrame({'k': ['a', 'b'], 'v': [1, 3]}), x='k', y='v')",
        "ply_px.update_traces(marker_color='red')",
        compare=["ply_px"],
    ),
    case(
        "ply_subplots",
        "plotly",
        PL,
        "import plotly.graph_objects as go\nfrom plotly.subplots import make_subplots\n"
        "ply_sub = make_subplots(rows=1, cols=2)\n"
        "ply_sub.add_trace(go.Bar(x=[1], y=[2]), row=1, col=2)",
        "ply_sub.add_annotation(text='note', x=1, y=2)",
        compare=["ply_sub"],
    ),
    case(
        "ply_template",
        "plotly",
        PL,
        "import plotly.graph_objects as go\n"
        "ply_tpl = go.Figure(go.Bar(x=['a'], y=[1]), layout={'template': 'plotly_white'})",
        "ply_tpl.update_yaxes(range=[0, 5])",
        compare=["ply_tpl"],
    ),
    case(
        "ply_heatmap",
        "plotly",
        (*PL, "numpy"),
        "import numpy as np\nimport plotly.graph_objects as go\n"
        "ply_hm = go.Figure(go.Heatmap(z=np.arange(6.0).reshape(2, 3)))",
        "ply_hm.data[0].zmax = 10",
        compare=["ply_hm"],
    ),
)

GROUPS = (Group("plots", MATPLOTLIB + SEABORN + PLOTLY),)
