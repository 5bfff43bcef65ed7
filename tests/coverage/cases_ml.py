"""Cases for models: scikit-learn estimators, pipelines, searches and Bunch datasets;
statsmodels results; torch CPU tensors, modules and optimizers."""

from __future__ import annotations

from .model import Group, case

SK = ("numpy", "sklearn")
_XY = (
    "import numpy as np\nfrom sklearn.datasets import make_classification\n"
    "{p}_X, {p}_y = make_classification(n_samples=60, n_features=4, random_state=0)\n"
)
SKLEARN = (
    case(
        "sk_linreg",
        "scikit-learn",
        SK,
        "import numpy as np\nfrom sklearn.linear_model import LinearRegression\n"
        "sk_lX = np.arange(20.0).reshape(10, 2)\nsk_ly = sk_lX @ [1.5, -2.0] + 0.5\n"
        "sk_lr = LinearRegression().fit(sk_lX, sk_ly)",
        "sk_lr.fit(sk_lX[:8], sk_ly[:8])",
        compare=["sk_lr", "sk_lr.predict(sk_lX)"],
    ),
    case(
        "sk_logreg",
        "scikit-learn",
        SK,
        _XY.format(p="sk_a") + "from sklearn.linear_model import LogisticRegression\n"
        "sk_log = LogisticRegression(max_iter=200).fit(sk_a_X, sk_a_y)",
        "sk_log.set_params(C=0.5).fit(sk_a_X, sk_a_y)",
        compare=["sk_log", "sk_log.predict_proba(sk_a_X)"],
    ),
    case(
        "sk_forest",
        "scikit-learn",
        SK,
        _XY.format(p="sk_b") + "from sklearn.ensemble import RandomForestClassifier\n"
        "sk_rf = RandomForestClassifier(n_estimators=5, random_state=0).fit(sk_b_X, sk_b_y)",
        "sk_rf.set_params(n_estimators=8, warm_start=True).fit(sk_b_X, sk_b_y)",
        compare=["sk_rf", "sk_rf.predict(sk_b_X)"],
    ),
    case(
        "sk_scaler",
        "scikit-learn",
        SK,
        "import numpy as np\nfrom sklearn.preprocessing import StandardScaler\n"
        "sk_sc = StandardScaler().fit(np.arange(12.0).reshape(6, 2))",
        "sk_sc.partial_fit(np.ones((3, 2)))",
        compare=["sk_sc", "sk_sc.transform(np.eye(2))"],
    ),
    case(
        "sk_pipeline",
        "scikit-learn",
        SK,
        _XY.format(p="sk_c") + "from sklearn.linear_model import LogisticRegression\n"
        "from sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import StandardScaler\n"
        "sk_pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(sk_c_X, sk_c_y)",
        "sk_pipe.set_params(logisticregression__C=0.1).fit(sk_c_X, sk_c_y)",
        compare=["sk_pipe", "sk_pipe.predict_proba(sk_c_X)"],
        checks=["sk_pipe.steps[0][1] is sk_pipe.named_steps['standardscaler']"],
    ),
    case(
        "sk_column_transformer",
        "scikit-learn",
        (*SK, "pandas"),
        "import pandas as pd\nfrom sklearn.compose import ColumnTransformer\n"
        "from sklearn.preprocessing import OneHotEncoder, StandardScaler\n"
        "sk_frame = pd.DataFrame({'c': list('abcab'), 'n': [1.0, 2.0, 3.0, 4.0, 5.0]})\n"
        "sk_ct = ColumnTransformer([('oh', OneHotEncoder(), ['c']), ('sc', StandardScaler(), "
        "['n'])])\n"
        "sk_ct.fit(sk_frame)",
        "sk_ct.fit(sk_frame.iloc[:4])",
        compare=["sk_ct.transform(sk_frame)", "sk_ct.get_params()"],
    ),
    case(
        "sk_gridsearch",
        "scikit-learn",
        SK,
        _XY.format(p="sk_d") + "from sklearn.linear_model import LogisticRegression\n"
        "from sklearn.model_selection import GridSearchCV\n"
        "sk_gs = GridSearchCV(LogisticRegression(), {'C': [0.1, 1.0]}, cv=3).fit(sk_d_X, sk_d_y)",
        "sk_gs.set_params(cv=2).fit(sk_d_X, sk_d_y)",
        compare=["sk_gs", "sk_gs.best_params_", "sk_gs.predict(sk_d_X)"],
    ),
    case(
        "sk_kmeans",
        "scikit-learn",
        SK,
        _XY.format(p="sk_e") + "from sklearn.cluster import KMeans\n"
        "sk_km = KMeans(n_clusters=3, n_init=2, random_state=0).fit(sk_e_X)",
        "sk_km.set_params(n_clusters=2).fit(sk_e_X)",
        compare=["sk_km", "sk_km.predict(sk_e_X)"],
    ),
    case(
        "sk_pca",
        "scikit-learn",
        SK,
        _XY.format(p="sk_f") + "from sklearn.decomposition import PCA\n"
        "sk_pca = PCA(n_components=2).fit(sk_f_X)",
        "sk_pca.fit(sk_f_X[:30])",
        compare=["sk_pca", "sk_pca.transform(sk_f_X)"],
    ),
    case(
        "sk_bunch",
        "scikit-learn",
        SK,
        "from sklearn.datasets import load_iris\nsk_iris = load_iris()",
        "sk_iris.data[0, 0] = 99.0\nsk_iris['note'] = 'seen'",
        compare=["sk_iris", "sk_iris.note"],
        checks=["sk_iris.data is sk_iris['data']"],
    ),
    case(
        "sk_bunch_frame",
        "scikit-learn",
        (*SK, "pandas"),
        "from sklearn.datasets import load_wine\nsk_wine = load_wine(as_frame=True)",
        "sk_wine.frame.loc[0, 'alcohol'] = 0.0",
        compare=["sk_wine.frame", "sk_wine.target"],
    ),
    case(
        "sk_unfitted",
        "scikit-learn",
        SK,
        "from sklearn.linear_model import Ridge\nsk_unfit = Ridge(alpha=2.0)",
        "sk_unfit.set_params(alpha=3.0)",
        compare=["sk_unfit"],
    ),
    case(
        "sk_label_encoder",
        "scikit-learn",
        SK,
        "from sklearn.preprocessing import LabelEncoder\n"
        "sk_le = LabelEncoder().fit(['b', 'a', 'c'])",
        "sk_le.fit(['z', 'y'])",
        compare=["sk_le", "sk_le.transform(['y'])"],
    ),
    case(
        "sk_notebook_transformer",
        "scikit-learn",
        SK,
        "import numpy as np\nfrom sklearn.base import BaseEstimator, TransformerMixin\n"
        "class SkDouble(TransformerMixin, BaseEstimator):\n"
        "    def __init__(self, factor=2.0):\n        self.factor = factor\n"
        "    def fit(self, X, y=None):\n        self.mean_ = np.asarray(X).mean(axis=0)\n"
        "        return self\n"
        "    def transform(self, X):\n        return (np.asarray(X) - self.mean_) * self.factor\n"
        "sk_dbl = SkDouble().fit(np.arange(6.0).reshape(3, 2))",
        "sk_dbl.set_params(factor=3.0)",
        compare=["sk_dbl", "sk_dbl.transform(np.ones((1, 2)))"],
        checks=["isinstance(sk_dbl, SkDouble)"],
    ),
)

SM = ("numpy", "pandas", "statsmodels")
_SMDATA = (
    "import numpy as np\nimport pandas as pd\nimport statsmodels.api as sm\n"
    "{p}_x = np.linspace(0, 10, 40)\n"
    "{p}_y = 1.5 + 0.8 * {p}_x + np.sin(np.arange(40))\n"
)
STATSMODELS = (
    case(
        "sm_ols",
        "statsmodels",
        SM,
        _SMDATA.format(p="sm_a") + "sm_ols = sm.OLS(sm_a_y, sm.add_constant(sm_a_x)).fit()",
        "sm_ols = sm_ols.get_robustcov_results('HC1')",
        compare=["sm_ols", "sm_ols.params", "sm_ols.predict(sm.add_constant(sm_a_x))"],
    ),
    case(
        "sm_formula",
        "statsmodels",
        SM,
        _SMDATA.format(p="sm_b") + "import statsmodels.formula.api as smf\n"
        "sm_frame = pd.DataFrame({'x': sm_b_x, 'y': sm_b_y, 'g': list('ab') * 20})\n"
        "sm_f = smf.ols('y ~ x + C(g)', data=sm_frame).fit()",
        "sm_frame.loc[0, 'y'] = 100.0\nsm_f2 = smf.ols('y ~ x', data=sm_frame).fit()",
        compare=["sm_f.params", "sm_f2.params", "sm_frame"],
    ),
    case(
        "sm_glm",
        "statsmodels",
        SM,
        _SMDATA.format(p="sm_c") + "sm_counts = np.arange(40) % 5\n"
        "sm_glm = sm.GLM(sm_counts, sm.add_constant(sm_c_x), family=sm.families.Poisson()).fit()",
        "sm_glm_params = sm_glm.params * 1",
        compare=["sm_glm", "sm_glm_params"],
    ),
    case(
        "sm_logit",
        "statsmodels",
        SM,
        _SMDATA.format(p="sm_d") + "sm_bin = (np.arange(40) % 3 == 0).astype(float)\n"
        "sm_logit = sm.Logit(sm_bin, sm.add_constant(sm_d_x)).fit(disp=0)",
        "sm_logit_list = [sm_logit]",
        compare=["sm_logit", "sm_logit_list"],
    ),
    case(
        "sm_wls",
        "statsmodels",
        SM,
        _SMDATA.format(p="sm_e") + "sm_wls = sm.WLS(sm_e_y, sm.add_constant(sm_e_x),\n"
        "                weights=np.linspace(1, 2, 40)).fit()",
        "sm_e_x[0] = -5.0",
        compare=["sm_wls", "sm_e_x"],
    ),
)

TH = ("torch",)
TORCH = (
    case(
        "th_tensor",
        "torch",
        TH,
        "import torch\nth_t = torch.arange(6, dtype=torch.float32).reshape(2, 3)",
        "th_t.mul_(2)",
        compare=["th_t"],
    ),
    case(
        "th_noncontig",
        "torch",
        TH,
        "import torch\nth_nc = torch.arange(12).reshape(3, 4).t()",
        "th_nc[0, 0] = 99",
        compare=["th_nc"],
    ),
    case(
        "th_grad",
        "torch",
        TH,
        "import torch\nth_w = torch.tensor([1.0, 2.0], requires_grad=True)",
        "(th_w ** 2).sum().backward()",
        compare=["th_w", "th_w.grad"],
    ),
    case(
        "th_linear",
        "torch",
        TH,
        "import torch\ntorch.manual_seed(0)\nth_lin = torch.nn.Linear(3, 2)",
        "with torch.no_grad():\n    th_lin.weight.fill_(0.5)\nth_lin.eval()",
        compare=["th_lin", "th_lin(torch.ones(1, 3)).detach()"],
    ),
    case(
        "th_sequential",
        "torch",
        TH,
        "import torch\ntorch.manual_seed(1)\n"
        "th_seq = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, "
        "1))",
        "th_seq[0].bias.data.zero_()",
        compare=["th_seq"],
    ),
    case(
        "th_sgd",
        "torch",
        TH,
        "import torch\ntorch.manual_seed(2)\nth_model = torch.nn.Linear(2, 1)\n"
        "th_opt = torch.optim.SGD(th_model.parameters(), lr=0.1, momentum=0.9)",
        "th_model(torch.ones(4, 2)).sum().backward()\nth_opt.step()",
        compare=["th_model", "th_opt"],
        checks=["th_opt.param_groups[0]['params'][0] is th_model.weight"],
    ),
    case(
        "th_adam",
        "torch",
        TH,
        "import torch\ntorch.manual_seed(3)\nth_am = torch.nn.Linear(2, 2)\n"
        "th_adam = torch.optim.Adam(th_am.parameters(), lr=0.01)",
        "th_am(torch.ones(3, 2)).pow(2).sum().backward()\nth_adam.step()",
        compare=["th_am", "th_adam"],
        checks=["th_adam.param_groups[0]['params'][1] is th_am.bias"],
    ),
    case(
        "th_notebook_module",
        "torch",
        TH,
        "import torch\nclass ThNet(torch.nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.lin = torch.nn.Linear(2, 1)\n"
        "    def forward(self, x):\n        return self.lin(x) * 2\n"
        "torch.manual_seed(4)\nth_net = ThNet()",
        "with torch.no_grad():\n    th_net.lin.bias.fill_(1.0)",
        compare=["th_net", "th_net(torch.ones(1, 2)).detach()"],
        checks=["isinstance(th_net, ThNet)"],
    ),
    case(
        "th_generator",
        "torch",
        TH,
        "import torch\nth_gen = torch.Generator().manual_seed(3)\n"
        "th_r1 = torch.rand(2, generator=th_gen)",
        "th_r2 = torch.rand(2, generator=th_gen)",
        compare=["th_gen", "th_r1", "th_r2"],
    ),
    case(
        "th_sparse",
        "torch",
        TH,
        "import torch\nth_sp = torch.sparse_coo_tensor([[0, 1], [1, 0]], [3.0, 4.0], (2, 2))",
        "th_sp = th_sp * 2",
        compare=["th_sp"],
    ),
    case(
        "th_bfloat16",
        "torch",
        TH,
        "import torch\nth_bf = torch.ones(3, dtype=torch.bfloat16)",
        "th_bf.add_(0.5)",
        compare=["th_bf"],
    ),
)

GROUPS = (
    Group("sklearn", SKLEARN),
    Group("statsmodels", STATSMODELS),
    Group("torch", TORCH),
)
