from __future__ import annotations

from ..kernels import Kernel


def test_resume_after_restart_restores_values(kernel: Kernel) -> None:
    kernel.run("%%mn_step load\nimport numpy as np\narr = np.arange(10.0)\nitems = [1, 2]\n")
    kernel.restart()
    kernel.run("%load_ext mirrorneuron_nb")
    out = kernel.run("%mn_resume")
    assert "restored 3 variable(s) from 1 step(s)" in out.stdout
    assert kernel.run("print(arr.sum(), items)").stdout.strip() == "45.0 [1, 2]"
