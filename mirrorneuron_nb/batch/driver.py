"""Drive a real IPython kernel over the Jupyter protocol (used by the demo and the tests)."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..kernel.banners import META_KEY
from .transport import IPCKernelManager

# What a graceful shutdown does first, without its seconds of grace: land the checkpoints
# the kernel is still writing behind its cells (a silent request: no history, no count).
FLUSH = (
    "import sys as _mn_sys\n"
    "if 'mirrorneuron_nb' in _mn_sys.modules:\n"
    "    _mn_sys.modules['mirrorneuron_nb'].flush()\n"
    "del _mn_sys\n"
)


@dataclass
class Execution:
    stdout: str = ""
    stderr: str = ""
    displays: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    own: list[dict[str, Any]] = field(default_factory=list)
    """The kernel's own outputs (kernel/banners.py: banners, %mn_status), apart from displays."""

    @property
    def text(self) -> str:
        return self.stdout + self.stderr

    @property
    def notes(self) -> str:
        """The text of the kernel's own outputs, one per line."""
        return "".join(d.get("text/plain", "") + "\n" for d in self.own)

    def plain(self) -> list[str]:
        return [d.get("text/plain", "") for d in self.displays]


class Kernel:
    def __init__(self, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.cwd = cwd
        self.km = IPCKernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=str(cwd), env={**os.environ, **(env or {})})
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self._sent = False  # code sent by start() may still be running

    @property
    def pid(self) -> int:
        return int(self.km.provisioner.process.pid)  # type: ignore[union-attr]

    def run(
        self, code: str, timeout: float = 120, check: bool = True, cell_id: str | None = None
    ) -> Execution:
        """Execute code and collect its output. `cell_id` is sent the way JupyterLab does."""
        msg_id = self._send(code, cell_id)
        result = Execution()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"cell did not finish within {timeout} s:\n{code}")
            try:
                msg = self.kc.get_iopub_msg(timeout=remaining)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                if content["name"] == "stdout":
                    result.stdout += content["text"]
                else:
                    result.stderr += content["text"]
            elif kind == "display_data" and META_KEY in (content.get("metadata") or {}):
                result.own.append(content["data"])
            elif kind in ("display_data", "execute_result"):
                result.displays.append(content["data"])
            elif kind == "error":
                result.error = content
            elif kind == "status" and content["execution_state"] == "idle":
                break
        reply = self._reply(msg_id)
        if result.error is None and reply.get("status") == "error":
            # IPython reports a UsageError on stderr only; the reply still says error.
            result.error = {k: reply.get(k, "") for k in ("ename", "evalue", "traceback")}
        self._sent = False  # cells run in order: whatever start() sent is done too
        if check and result.error is not None:
            raise AssertionError(
                f"cell failed: {result.error['ename']}: {result.error['evalue']}\n{code}"
            )
        return result

    def _reply(self, msg_id: str) -> dict[str, Any]:
        """The execute_reply's content (consumed, so replies do not pile up unread)."""
        with contextlib.suppress(queue.Empty):
            while True:
                msg = self.kc.get_shell_msg(timeout=10)
                if msg["parent_header"].get("msg_id") == msg_id:
                    return dict(msg["content"])
        return {}

    def _send(self, code: str, cell_id: str | None) -> str:
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        }
        metadata = {"cellId": cell_id} if cell_id else {}
        msg = self.kc.session.msg("execute_request", content, metadata=metadata)
        self.kc.shell_channel.send(msg)
        return str(msg["header"]["msg_id"])

    def start(self, code: str) -> str:
        """Send code without waiting for it to finish (to kill the kernel mid-way)."""
        self._sent = True
        return self._send(code, None)

    def restart(self) -> None:
        """A restart as Jupyter's: pending checkpoints land first (not after kill())."""
        self.flush()
        self.km.restart_kernel(now=True)
        self.kc.wait_for_ready(timeout=60)
        self._sent = False

    def kill(self) -> None:
        """SIGKILL: no atexit, no cleanup, like an OOM kill."""
        os.kill(self.pid, signal.SIGKILL)
        self.km.provisioner.process.wait()  # type: ignore[union-attr]
        self._sent = False

    def revive(self) -> None:
        """Start a fresh kernel after kill()."""
        self.km.restart_kernel(now=True)
        self.kc.wait_for_ready(timeout=60)
        self._sent = False

    def flush(self, timeout: float = 300) -> None:
        """Wait for the checkpoints an idle kernel is still writing behind its cells (a
        busy or dead kernel is left alone: stopping it is what the caller wants)."""
        if self._sent or not self.km.is_alive():
            return
        msg = self.kc.session.msg(
            "execute_request",
            {
                "code": FLUSH,
                "silent": True,
                "store_history": False,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": False,
            },
        )
        self.kc.shell_channel.send(msg)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                reply = self.kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                continue
            if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                return

    def shutdown(self) -> None:
        """A shutdown as Jupyter's: pending checkpoints land first (not after kill())."""
        if self.km.has_kernel:
            self.flush()
        self.kc.stop_channels()
        if self.km.has_kernel:
            self.km.shutdown_kernel(now=True)
