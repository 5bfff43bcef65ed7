"""Cases the product does not pass yet, each with the open problem it shows.

Listed here, a case is an expected failure (strict: when it starts to pass, the test
fails until it is removed from this list), so CI stays green while the table in
benchmarks/README.md keeps every failure visible. Add nothing here to hide a regression:
a case leaves this list when its cause is fixed.
"""

from __future__ import annotations

SHARED = (
    "shared references between variables (or between a variable and an object inside "
    "another) are not kept across a checkpoint: each variable is pickled apart"
)
UNSTABLE = (
    "the value's fingerprint is not stable for this type yet (it differs between two "
    "reads, or after a checkpoint round trip): the mutating step runs again, shown stale"
)
GRAD = "torch saves a tensor without its .grad: a leaf's gradient is lost on restore"
WRAPPED = (
    "a library method wrapped with functools.wraps in a notebook class (sklearn's set_output "
    "wrapper) is restored with the notebook namespace as globals: NameError when called"
)

KNOWN_FAILURES: dict[str, str] = {
    "mpl_line": SHARED,
    "mpl_pyplot": SHARED,
    "mpl_polygon_on_axes": SHARED,
    "mpl_imshow": SHARED,
    "mpl_scatter": SHARED,
    "mpl_text_legend": SHARED,
    "mpl_shared_axes": SHARED,
    "sns_histplot": SHARED,
    "sns_facetgrid": SHARED,
    "sns_heatmap": SHARED,
    "sns_relplot": SHARED,
    "th_sgd": SHARED,
    "th_adam": SHARED,
    "sh_same_step": SHARED,
    "sh_cross_step": SHARED,
    "sh_array_view": SHARED,
    "sh_frame_holder": SHARED,
    "sh_object_lists": SHARED,
    "sh_grid_rows": SHARED,
    "np_view": SHARED,
    "fn_lambda": SHARED,
    "mpl_normalize": UNSTABLE,
    "mpl_lognorm": UNSTABLE,
    "mpl_rectangle": UNSTABLE,
    "mpl_circle": UNSTABLE,
    "ply_scatter": UNSTABLE,
    "ply_express": UNSTABLE,
    "ply_subplots": UNSTABLE,
    "ply_heatmap": UNSTABLE,
    "th_tensor": UNSTABLE,
    "th_noncontig": UNSTABLE,
    "th_linear": UNSTABLE,
    "th_sequential": UNSTABLE,
    "th_notebook_module": UNSTABLE,
    "th_generator": UNSTABLE,
    "th_sparse": UNSTABLE,
    "th_bfloat16": UNSTABLE,
    "cls_intenum_flag": UNSTABLE,
    "cls_plain": UNSTABLE,
    "mg_capture": UNSTABLE,
    "th_grad": GRAD,
    "sk_notebook_transformer": WRAPPED,
}
