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
from ..notebook import NO_STEPS, NotebookSteps, notebook_steps
from ..sidecar import Location, locate, sidecar_beside
from ..store import Store, open_store
from . import banners, barrier
from .discovery import CellMatcher, kernel_cwd, vscode_notebook
from .heartbeat import Heartbeat
from .known import KnownFingerprints
from .sharing import SharingIndex
from .writer import Writer

# IPython's own bookkeeping names; never checkpointed, never inputs.
_IPYTHON_NAME = re.compile(r"^(_|__|___|_i{1,3}|_i?\d+|_ih|_oh|_dh|In|Out|exit|quit|get_ipython)$")


class KernelSession:
    def __init__(self, shell: Any, location: Location | None = None) -> None:
        self.shell = shell
        self.location = location or locate(shell.user_ns.get("__session__"))
        self._store: Store | None = None
        self.run_id: str | None = None
        # The id a batch driver chose for this kernel's run, taken from the environment as
        # the extension loads: no process the notebook starts afterwards inherits it.
        self._preset_run_id = config.take_run_id()
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
        self.heartbeat = Heartbeat(self.location.sidecar, self.location.notebook)
        # Checkpoints are written behind the cells, in order, by one thread (writer.py).
        self.writer = Writer(self.location.sidecar, self.location.notebook, self.heartbeat)
        # No front end named the notebook: look for it until the sidecar is first opened.
        self._matcher = CellMatcher(kernel_cwd())
        self._noticed = False
        self._steps: NotebookSteps | None = None
        self._discover("")
        # Fingerprints that still hold, so a step does not hash unchanged inputs again.
        self.known = KnownFingerprints(shell)
        shell.events.register("pre_run_cell", self._pre_run_cell)
        # Queued checkpoints never wait behind another cell (wakeup.py); silent
        # executions too, which skip pre_run_cell.
        shell.events.register("pre_execute", self._pre_execute)
        barrier.install(self)

    def _pre_execute(self) -> None:
        self.writer.wake()  # (the writer is replaced when the notebook is found)

    def _pre_run_cell(self, info: Any) -> None:
        self.cell_id = getattr(info, "cell_id", None)
        self._steps = None  # the notebook may have been saved since the last cell
        self._discover(getattr(info, "raw_cell", None) or "")

    def _discover(self, cell: str) -> None:
        """Find the notebook VS Code names, or the one in the kernel's folder holding the
        cell about to run (nbconvert, nbclient); only while the sidecar is the default one
        and unopened (a kernel never switches sidecars once it used one)."""
        if self._store is not None or self.location.source != "default":
            return
        found, how = vscode_notebook(self.shell.user_ns), "vscode"
        if found is None and cell:
            history = getattr(self.shell.history_manager, "input_hist_raw", None) or []
            found, how = (
                self._matcher.find(cell, [h for h in history if isinstance(h, str)]),
                "cells",
            )
        if found is not None:
            self.location = Location(sidecar_beside(found), found, how)
            self.heartbeat = Heartbeat(self.location.sidecar, self.location.notebook)
            # Nothing was checkpointed yet (no store opened): the writer starts afresh.
            self.writer = Writer(self.location.sidecar, self.location.notebook, self.heartbeat)

    def record_resume(self, steps: list[str], restored: int, missing: list[str]) -> None:
        """Log a resume as part of this kernel's run, with the checkpoints it used."""
        wanted = set(steps)
        checkpoints = {
            s.name: s.checkpoint_id
            for s in self.store.steps()
            if s.name in wanted and s.checkpoint_id is not None
        }
        self.store.record_resume(self.ensure_run(), checkpoints, restored, missing)

    def notice_location(self) -> None:
        """Once per kernel: say which sidecar a step uses when no notebook was found."""
        if self.location.source == "default" and not self._noticed:
            self._noticed = True
            banners.sidecar_notice(self.location)

    @property
    def store(self) -> Store:
        if self._store is None:
            # A kernel is where steps a dead kernel left `running` are discovered: the store
            # records them `interrupted` as it opens (recover=True).
            self._store = open_store(
                self.location.sidecar, notebook=self.location.notebook, recover=True
            )
            self._store.keep_looks()  # the writer's store reads what they find
        return self._store

    def ensure_run(self) -> str:
        if self.run_id is None:
            run = Run(
                id=self._preset_run_id or uuid.uuid4().hex,
                kind=config.run_kind(),
                parameters=config.run_parameters(),
                status="running",
                started_at=time.time(),
                pid=os.getpid(),
                host=socket.gethostname(),
                notebook=str(self.location.notebook) if self.location.notebook else None,
            )
            self.store.start_run(run)
            self.run_id, self._preset_run_id = run.id, None
            self.heartbeat.run_id = run.id
            atexit.register(self.close)
        return self.run_id

    def close(self) -> None:
        self.writer.close()  # pending checkpoints land first (they hold their leases)
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
        if notebook is not None and name in self.notebook_steps().duplicates:
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
        """Each step cell's position in the notebook (do not change the dict: it is shared)."""
        return self.notebook_steps().positions

    def notebook_steps(self) -> NotebookSteps:
        """The notebook's step cells as saved, looked at once per cell (a `stat` costs a
        trivial step tens of microseconds, and the claim and the plan both ask)."""
        notebook: Path | None = self.location.notebook
        if notebook is None:
            return NO_STEPS
        if self._steps is None:
            self._steps = notebook_steps(notebook)
        return self._steps
