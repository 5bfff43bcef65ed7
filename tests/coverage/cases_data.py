"""Cases for table libraries: pandas, polars, pyarrow, xarray."""

from __future__ import annotations

from .model import Group, case

PD = ("numpy", "pandas")


PANDAS = (
    case(
        "pd_basic",
        "pandas",
        PD,
        "import numpy as np\nimport pandas as pd\n"
        "pd_df = pd.DataFrame({'x': np.arange(5), 'y': np.linspace(0, 1, 5), 's': list('abcde')})",
        "pd_df.loc[2, 'y'] = -1.0\npd_df['z'] = pd_df['x'] * 2",
        compare=["pd_df"],
    ),
    case(
        "pd_categorical",
        "pandas",
        PD,
        "import pandas as pd\npd_cat = pd.DataFrame({'c': pd.Categorical(\n"
        "    ['lo', 'hi', 'lo'], categories=['lo', 'mid', 'hi'], ordered=True)})",
        "pd_cat.loc[1, 'c'] = 'mid'",
        compare=["pd_cat", "pd_cat['c'].cat.categories"],
    ),
    case(
        "pd_multiindex_rows",
        "pandas",
        PD,
        "import pandas as pd\n"
        "pd_mi = pd.DataFrame({'v': range(6)}, index=pd.MultiIndex.from_product(\n"
        "    [['a', 'b'], [1, 2, 3]], names=['letter', 'num']))",
        "pd_mi.loc[('b', 2), 'v'] = 100",
        compare=["pd_mi", "pd_mi.index"],
    ),
    case(
        "pd_multiindex_cols",
        "pandas",
        PD,
        "import pandas as pd\n"
        "pd_mc = pd.DataFrame([[1, 2, 3]], columns=pd.MultiIndex.from_tuples(\n"
        "    [('a', 'x'), ('a', 'y'), ('b', 'x')], names=['top', 'sub']))",
        "pd_mc[('b', 'y')] = 4",
        compare=["pd_mc", "pd_mc.columns"],
    ),
    case(
        "pd_tz",
        "pandas",
        PD,
        "import pandas as pd\npd_tz = pd.Series(range(4), name='n', index=pd.date_range(\n"
        "    '2024-03-09', periods=4, freq='D', tz='America/New_York'))",
        "pd_tz.iloc[0] = 10",
        compare=["pd_tz", "pd_tz.index.tz"],
    ),
    case(
        "pd_nullable",
        "pandas",
        PD,
        "import pandas as pd\npd_nl = pd.DataFrame({\n"
        "    'i': pd.array([1, None, 3], dtype='Int64'),\n"
        "    'b': pd.array([True, None, False], dtype='boolean'),\n"
        "    's': pd.array(['a', None, 'c'], dtype='string'),\n"
        "    'f': pd.array([0.5, None, 1.5], dtype='Float64')})",
        "pd_nl.loc[0, 'i'] = pd.NA\npd_nl.loc[1, 's'] = 'b'",
        compare=["pd_nl"],
    ),
    case(
        "pd_series_named",
        "pandas",
        PD,
        "import pandas as pd\n"
        "pd_s = pd.Series([1.0, 2.0], index=pd.Index(['a', 'b'], name='key'),\n"
        "                 name='val')",
        "pd_s['c'] = 3.0",
        compare=["pd_s"],
    ),
    case(
        "pd_period",
        "pandas",
        PD,
        "import pandas as pd\n"
        "pd_per = pd.Series([1, 2, 3], index=pd.period_range('2024-01', periods=3, freq='M'))",
        "pd_per.iloc[1] = 20",
        compare=["pd_per"],
    ),
    case(
        "pd_interval",
        "pandas",
        PD,
        "import pandas as pd\n"
        "pd_iv = pd.DataFrame({'v': [1, 2, 3]}, index=pd.interval_range(0, 3))",
        "pd_iv['w'] = pd_iv['v'] * 1.5",
        compare=["pd_iv"],
    ),
    case(
        "pd_timedelta",
        "pandas",
        PD,
        "import pandas as pd\npd_td = pd.DataFrame({'td': pd.to_timedelta([1, 2, 3], unit='h')})",
        "pd_td['td'] += pd.Timedelta('30min')",
        compare=["pd_td"],
    ),
    case(
        "pd_sparse",
        "pandas",
        PD,
        "import pandas as pd\npd_sp = pd.DataFrame({'s': pd.arrays.SparseArray([0, 0, 1, 0, 2])})",
        "pd_sp['t'] = pd.arrays.SparseArray([1, 0, 0, 0, 0])",
        compare=["pd_sp"],
    ),
    case(
        "pd_attrs",
        "pandas",
        PD,
        "import pandas as pd\npd_at = pd.DataFrame({'a': [1]})\npd_at.attrs['source'] = 'lab'",
        "pd_at.attrs['version'] = 2",
        compare=["pd_at", "pd_at.attrs"],
    ),
    case(
        "pd_groupby",
        "pandas",
        PD,
        "import pandas as pd\npd_raw = pd.DataFrame({'k': list('abab'), 'v': [1, 2, 3, 4]})\n"
        "pd_g = pd_raw.groupby('k').agg(total=('v', 'sum'))",
        "pd_g['total'] *= 10",
        compare=["pd_g", "pd_raw"],
    ),
    case(
        "pd_timestamp",
        "pandas",
        PD,
        "import pandas as pd\npd_ts = pd.Timestamp('2024-05-01 12:00', tz='Europe/Berlin')\n"
        "pd_ts_list = [pd_ts]",
        "pd_ts_list.append(pd_ts + pd.Timedelta(hours=5))",
        compare=["pd_ts", "pd_ts_list"],
    ),
    case(
        "pd_arrow_dtype",
        "pandas",
        (*PD, "pyarrow"),
        "import pandas as pd\npd_arrow = pd.DataFrame({'s': pd.Series(['x', None, 'z'],\n"
        "                                               dtype='string[pyarrow]')})",
        "pd_arrow.loc[1, 's'] = 'y'",
        compare=["pd_arrow"],
    ),
    case(
        "pd_object_dupindex",
        "pandas",
        PD,
        "import pandas as pd\n"
        "pd_obj = pd.DataFrame({'m': [1, 'two', 3.0, None]}, index=[0, 0, 1, 1])",
        "pd_obj['m'] = pd_obj['m'].astype(str)",
        compare=["pd_obj"],
    ),
    case(
        "pd_categorical_array",
        "pandas",
        PD,
        "import pandas as pd\npd_c = pd.Categorical(['a', 'b', 'a'])",
        "pd_c[0] = 'b'",
        compare=["pd_c"],
    ),
)

POLARS = (
    case(
        "pl_frame",
        "polars",
        ("polars",),
        "import polars as pl\npl_df = pl.DataFrame({'a': [1, 2, 3], 'b': ['x', 'y', None]})",
        "pl_df.insert_column(1, pl.Series('z', [0.5, 1.5, 2.5]))",
        compare=["pl_df"],
    ),
    case(
        "pl_series",
        "polars",
        ("polars",),
        "import polars as pl\npl_s = pl.Series('s', [1, None, 3])",
        "pl_s.append(pl.Series('s', [4]))",
        compare=["pl_s"],
    ),
    case(
        "pl_lazy",
        "polars",
        ("polars",),
        "import polars as pl\npl_lf = pl.LazyFrame({'a': [1, 2, 3]}).filter(pl.col('a') > 1)",
        "pl_lf = pl_lf.with_columns(b=pl.col('a') * 2)",
        compare=["pl_lf"],
    ),
    case(
        "pl_nested",
        "polars",
        ("polars",),
        "import polars as pl\npl_nest = pl.DataFrame({'st': [{'a': 1, 'b': 'x'}], 'li': [[1, 2]]})",
        "pl_nest.vstack(pl.DataFrame({'st': [{'a': 2, 'b': 'y'}], 'li': [[3]]}), in_place=True)",
        compare=["pl_nest"],
    ),
    case(
        "pl_enum",
        "polars",
        ("polars",),
        "import polars as pl\npl_en = pl.Series('e', ['lo', 'hi'], dtype=pl.Enum(['lo', 'hi']))",
        "pl_en.extend(pl.Series('e', ['hi'], dtype=pl.Enum(['lo', 'hi'])))",
        compare=["pl_en"],
    ),
)

PYARROW = (
    case(
        "pa_table",
        "pyarrow",
        ("pyarrow",),
        "import pyarrow as pa\n"
        "pa_tab = pa.table({'a': [1, 2], 'b': ['x', None]}).replace_schema_metadata(\n"
        "    {'origin': 'lab'})",
        "pa_tab = pa_tab.append_column('c', pa.array([0.5, 1.5]))",
        compare=["pa_tab"],
    ),
    case(
        "pa_array",
        "pyarrow",
        ("pyarrow",),
        "import pyarrow as pa\npa_arr = pa.array([1, None, 3], type=pa.int16())",
        "pa_arr = pa.concat_arrays([pa_arr, pa.array([9], type=pa.int16())])",
        compare=["pa_arr"],
    ),
    case(
        "pa_chunked",
        "pyarrow",
        ("pyarrow",),
        "import pyarrow as pa\npa_ch = pa.chunked_array([[1, 2], [3]])",
        "pa_ch = pa.chunked_array(pa_ch.chunks + [pa.array([4, 5])])",
        compare=["pa_ch"],
    ),
    case(
        "pa_batch",
        "pyarrow",
        ("pyarrow",),
        "import pyarrow as pa\n"
        "pa_rb = pa.record_batch([pa.array([1, 2]), pa.array(['a', 'b'])], names=['n', 's'])",
        "pa_rbs = [pa_rb, pa_rb.slice(1)]",
        compare=["pa_rb", "pa_rbs"],
    ),
    case(
        "pa_dictionary",
        "pyarrow",
        ("pyarrow",),
        "import pyarrow as pa\npa_dict = pa.array(['lo', 'hi', 'lo']).dictionary_encode()",
        "pa_dict_list = [pa_dict, pa_dict.indices]",
        compare=["pa_dict", "pa_dict_list"],
    ),
)

XR = ("numpy", "pandas", "xarray")
XARRAY = (
    case(
        "xr_dataarray",
        "xarray",
        XR,
        "import numpy as np\nimport xarray as xr\n"
        "xr_da = xr.DataArray(np.arange(6.0).reshape(2, 3), dims=('y', 'x'),\n"
        "                     coords={'x': [10, 20, 30]}, attrs={'units': 'm'})",
        "xr_da.loc[dict(x=20)] = -1.0\nxr_da.attrs['units'] = 'K'",
        compare=["xr_da"],
    ),
    case(
        "xr_dataset",
        "xarray",
        XR,
        "import numpy as np\nimport xarray as xr\n"
        "xr_ds = xr.Dataset({'t': ('x', np.arange(4.0)), 'g': ('x', [0, 1, 0, 1])})",
        "xr_ds['t2'] = xr_ds['t'] * 2",
        compare=["xr_ds"],
    ),
    case(
        "xr_time",
        "xarray",
        XR,
        "import pandas as pd\nimport xarray as xr\n"
        "xr_time = xr.DataArray([1.0, 2.0, 3.0], dims='time',\n"
        "                       coords={'time': pd.date_range('2024-01-01', periods=3)})",
        "xr_time[0] = 5.0",
        compare=["xr_time"],
    ),
    case(
        "xr_groupby",
        "xarray",
        XR,
        "import numpy as np\nimport xarray as xr\n"
        "xr_src = xr.Dataset({'t': ('x', np.arange(4.0)), 'g': ('x', [0, 1, 0, 1])})\n"
        "xr_mean = xr_src.groupby('g').mean()",
        "xr_mean.attrs['note'] = 'means'",
        compare=["xr_mean"],
    ),
    case(
        "xr_encoding",
        "xarray",
        XR,
        "import xarray as xr\nxr_enc = xr.DataArray([1.5, 2.5], dims='x', name='v')",
        "xr_enc.encoding['dtype'] = 'int16'",
        compare=["xr_enc", "xr_enc.encoding"],
    ),
)

GROUPS = (
    Group("pandas", PANDAS),
    Group("columnar", POLARS + PYARROW + XARRAY),
)
