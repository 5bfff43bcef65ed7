"""The real-kernel driver used by the tests lives in the package (the demo uses it too)."""

from __future__ import annotations

from mirrorneuron_nb.batch import driver
from mirrorneuron_nb.batch.driver import Execution

__all__ = ["Execution", "Kernel"]


class Kernel(driver.Kernel):
    """The package's driver; after a step cell it waits for the step's checkpoint to land
    (checkpoints are written behind the cells) because tests read the sidecar from outside
    the kernel. Tests that watch write-behind itself, or count fingerprints (the silent
    flush forgets them), set `settle = False`."""

    settle = True

    def run(
        self, code: str, timeout: float = 120, check: bool = True, cell_id: str | None = None
    ) -> Execution:
        out = super().run(code, timeout=timeout, check=check, cell_id=cell_id)
        if self.settle and "%%mn_step" in code:
            self.flush()
        return out
