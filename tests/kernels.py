"""The real-kernel driver used by the tests lives in the package (the demo uses it too)."""

from mirrorneuron_nb.batch.driver import Execution, Kernel

__all__ = ["Execution", "Kernel"]
