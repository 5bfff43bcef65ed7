"""Per-kernel state: the sidecar store, this kernel's run, and which cell is executing."""

from __future__ import annotations

import atexit
import os
import re
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from .. import config
from ..errors import DuplicateStep
from ..models import Run
from ..notebook import duplicates, step_cells
from ..sidecar import Location, locate
from ..store import Store
from .heartbeat import Heartbeat
from .known import KnownFingerprints
from .sharing import SharingIndex

# IPython's own bookkeeping names; never checkpointed, never inputs.
_IPYTHON_NAME = re.compile(r"^(_|__|___|_i{1,3}|_i?\d+|_ih|_oh|_dh|In|Out|exit|quit|get_ipython)$")


class KernelSession:
    def __init__(self, shell: Any, location: Location | None = None) -> None:
        self.shell = shell
        self.location = location or locate(shell.user_ns.get("__session__"))
        self._store: Store | None = None
        self.run_id: str | None = None
        self.cell_id: str | None = None
        # step name -> the cell id that ran it in this kernel (duplicate detection)
        self.step_cells: dict[str, str] = {}
        # A batch run started with --fresh executes every step, whatever its checkpoints.
        self.force_all = config.force_all()
        # Batch runs stop at approval gates with a command to run; interactive ones ask.
        self.batch = config.is_batch()
        # (step, reasons) already explained in this kernel: "always runs" is said once.
        self._announced: set[tuple[str, tuple[str, ...]]] = set()
        # Which variables share objects, so a checkpoint saves them together.
        self.sharing = SharingIndex()
        # Who this kernel is when it claims a step (a lease), and what renews its leases.
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.heartbeat = Heartbeat(self.location.sidecar)
        # Fingerprints that still hold, so a step does not hash unchanged inputs again.
        self.known = KnownFingerprints(shell)
        shell.events.register("pre_run_cell", self._pre_run_cell)

    def _pre_run_cell(self, info: Any) -> None:
        self.cell_id = getattr(info, "cell_id", None)

    @property
    def store(self) -> Store:
        if self._store is None:
            # A kernel is where steps a dead kernel left `running` are discovered: the store
            # records them `interrupted` as it opens (recover=True).
            self._store = Store(self.location.sidecar, recover=True)
        return self._store

    def ensure_run(self) -> str:
        if self.run_id is None:
            run = Run(
                id=uuid.uuid4().hex,
                kind=config.run_kind(),
                parameters=config.run_parameters(),
                status="running",
                started_at=time.time(),
                pid=os.getpid(),
                host=socket.gethostname(),
                notebook=str(self.location.notebook) if self.location.notebook else None,
            )
            self.store.start_run(run)
            self.run_id = run.id
            self.heartbeat.run_id = run.id
            atexit.register(self.close)
        return self.run_id

    def close(self) -> None:
        self.heartbeat.stop()
        if self._store is not None:
            if self.run_id is not None:
                self._store.end_run(self.run_id, "ended")
                self.run_id = None
            self._store.close()
            self._store = None

    def hidden(self, name: str) -> bool:
        if name.startswith("__") and name.endswith("__"):
            return True
        if _IPYTHON_NAME.match(name):
            return True
        hidden = self.shell.user_ns_hidden
        return name in hidden and hidden[name] is self.shell.user_ns.get(name)

    def claim(self, name: str) -> None:
        """Refuse a step name that another cell of this notebook already uses."""
        cell_id = self.cell_id
        if cell_id is not None:
            owner = self.step_cells.get(name)
            if owner is not None and owner != cell_id:
                raise DuplicateStep(
                    f"step name {name!r} is already used by another cell of this notebook; "
                    "give each %%mn_step cell its own name"
                )
        notebook = self.location.notebook
        if notebook is not None and name in duplicates(step_cells(notebook)):
            raise DuplicateStep(
                f"step name {name!r} is used by more than one cell in {notebook.name}; "
                "give each %%mn_step cell its own name"
            )
        if cell_id is not None:
            self.step_cells[name] = cell_id

    def announce(self, step: str, reasons: tuple[str, ...]) -> bool:
        """True the first time this kernel sees `step` with these reasons."""
        key = (step, reasons)
        if key in self._announced:
            return False
        self._announced.add(key)
        return True

    def notebook_positions(self) -> dict[str, int]:
        notebook: Path | None = self.location.notebook
        return {c.name: c.position for c in step_cells(notebook)} if notebook else {}
