"""Kernel managers for the kernels mn-nb starts (batch runs, the demo): they talk over IPC
(Unix sockets) instead of TCP, so no port listens on the network and ipykernel has no
unencrypted TCP to warn about (its `Kernel is running over TCP without encryption` line).

The sockets live in a short private temporary directory: a Unix socket path is limited to
about 100 bytes, which a connection file deep in a runtime or test directory can exceed.
Windows has no IPC transport in ZeroMQ: there the kernels keep TCP.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from jupyter_client.manager import AsyncKernelManager, KernelManager
from traitlets import CaselessStrEnum

IPC_AVAILABLE = os.name == "posix"
TRANSPORT = "ipc" if IPC_AVAILABLE else "tcp"


def _socket_prefix(manager: KernelManager) -> str:
    directory = tempfile.mkdtemp(prefix="mn-kernel-")
    manager.__dict__["_mn_socket_dir"] = directory
    return os.path.join(directory, "k")


def _remove_socket_dir(manager: KernelManager) -> None:
    directory = manager.__dict__.pop("_mn_socket_dir", None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


class IPCKernelManager(KernelManager):
    """A KernelManager whose kernel listens on Unix sockets (see the module docstring)."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value=TRANSPORT, config=True)

    def _ip_default(self) -> str:
        return _socket_prefix(self) if self.transport == "ipc" else super()._ip_default()

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            _remove_socket_dir(self)


class AsyncIPCKernelManager(AsyncKernelManager):
    """The same for nbclient (papermill), which drives an AsyncKernelManager."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value=TRANSPORT, config=True)

    def _ip_default(self) -> str:
        return _socket_prefix(self) if self.transport == "ipc" else super()._ip_default()

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            _remove_socket_dir(self)
