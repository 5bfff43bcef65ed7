"""Kernel managers for the kernels mn-nb starts (batch runs, the demo): they talk over IPC
(Unix sockets) instead of TCP, so no port listens on the network and ipykernel has no
unencrypted TCP to warn about (its `Kernel is running over TCP without encryption` line).

The sockets live in a short private temporary directory (one per process, removed at exit):
a Unix socket path is limited to about 100 bytes, which a connection file deep in a runtime
or test directory can exceed.
Windows has no IPC transport in ZeroMQ: there the kernels keep TCP.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid

from jupyter_client.manager import AsyncKernelManager, KernelManager
from traitlets import CaselessStrEnum

IPC_AVAILABLE = os.name == "posix"
TRANSPORT = "ipc" if IPC_AVAILABLE else "tcp"


_socket_dir: str | None = None


def _socket_prefix() -> str:
    """A fresh socket path prefix in this process's private directory (made on first use,
    removed at exit: a kernel that dies is not always cleaned up by its manager)."""
    global _socket_dir
    if _socket_dir is None:
        _socket_dir = tempfile.mkdtemp(prefix="mn-kernels-")
        atexit.register(shutil.rmtree, _socket_dir, ignore_errors=True)
    return os.path.join(_socket_dir, uuid.uuid4().hex[:12])


class IPCKernelManager(KernelManager):
    """A KernelManager whose kernel listens on Unix sockets (see the module docstring)."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value=TRANSPORT, config=True)

    def _ip_default(self) -> str:
        return _socket_prefix() if self.transport == "ipc" else super()._ip_default()

    async def _async_interrupt_kernel(self) -> None:
        # jupyter_client interrupts before every shutdown; an idle kernel handling a message
        # then logs "KeyboardInterrupt caught in kernel." on our stderr. A shutdown of ours
        # does not need it: a busy kernel is killed after the shutdown wait anyway.
        if not self.shutting_down:
            await super()._async_interrupt_kernel()


class AsyncIPCKernelManager(AsyncKernelManager):
    """The same for nbclient (papermill), which drives an AsyncKernelManager."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value=TRANSPORT, config=True)

    def _ip_default(self) -> str:
        return _socket_prefix() if self.transport == "ipc" else super()._ip_default()

    async def _async_interrupt_kernel(self) -> None:
        # jupyter_client interrupts before every shutdown; an idle kernel handling a message
        # then logs "KeyboardInterrupt caught in kernel." on our stderr. A shutdown of ours
        # does not need it: a busy kernel is killed after the shutdown wait anyway.
        if not self.shutting_down:
            await super()._async_interrupt_kernel()
