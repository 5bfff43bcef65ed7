"""The sidecar store: SQLite metadata plus content-addressed blob files."""

from .store import GcPlan, NewCheckpoint, StepStart, Store, pid_alive

__all__ = ["GcPlan", "NewCheckpoint", "StepStart", "Store", "pid_alive"]
