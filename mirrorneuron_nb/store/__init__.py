"""The sidecar store: SQLite metadata plus content-addressed blob files."""

from .store import NewCheckpoint, StepStart, Store, pid_alive

__all__ = ["NewCheckpoint", "StepStart", "Store", "pid_alive"]
