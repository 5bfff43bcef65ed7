"""Drive a real IPython kernel over the Jupyter protocol (used by the demo and the tests)."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager


@dataclass
class Execution:
    stdout: str = ""
    stderr: str = ""
    displays: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return self.stdout + self.stderr

    def plain(self) -> list[str]:
        return [d.get("text/plain", "") for d in self.displays]


class Kernel:
    def __init__(self, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.cwd = cwd
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=str(cwd), env={**os.environ, **(env or {})})
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    @property
    def pid(self) -> int:
        return int(self.km.provisioner.process.pid)  # type: ignore[union-attr]

    def run(self, code: str, timeout: float = 120, check: bool = True) -> Execution:
        result = Execution()

        def hook(msg: dict[str, Any]) -> None:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                if content["name"] == "stdout":
                    result.stdout += content["text"]
                else:
                    result.stderr += content["text"]
            elif kind in ("display_data", "execute_result"):
                result.displays.append(content["data"])
            elif kind == "error":
                result.error = content

        self.kc.execute_interactive(code, output_hook=hook, timeout=timeout)
        if check and result.error is not None:
            raise AssertionError(
                f"cell failed: {result.error['ename']}: {result.error['evalue']}\n{code}"
            )
        return result

    def start(self, code: str) -> str:
        """Send code without waiting for it to finish (to kill the kernel mid-way)."""
        return str(self.kc.execute(code))

    def restart(self) -> None:
        self.km.restart_kernel(now=True)
        self.kc.wait_for_ready(timeout=60)

    def kill(self) -> None:
        """SIGKILL: no atexit, no cleanup, like an OOM kill."""
        os.kill(self.pid, signal.SIGKILL)
        self.km.provisioner.process.wait()  # type: ignore[union-attr]

    def revive(self) -> None:
        """Start a fresh kernel after kill()."""
        self.km.restart_kernel(now=True)
        self.kc.wait_for_ready(timeout=60)

    def shutdown(self) -> None:
        self.kc.stop_channels()
        if self.km.has_kernel:
            self.km.shutdown_kernel(now=True)
