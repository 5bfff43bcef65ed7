"""mirrorneuron_nb: durable execution for Jupyter notebooks.

`%load_ext mirrorneuron_nb` registers the %%mn_step, %mn_resume, %mn_status and
%mn_reset magics. Importing this package imports nothing else, so the CLI starts fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_SESSION_ATTR = "_mirrorneuron_session"


def load_ipython_extension(ipython: Any) -> None:
    from .kernel import awaiting
    from .kernel.magics import ASYNC_TWIN, MirrorNeuronMagics
    from .kernel.session import KernelSession

    session = getattr(ipython, _SESSION_ATTR, None)
    if session is None:
        session = KernelSession(ipython)
        setattr(ipython, _SESSION_ATTR, session)
    ipython.register_magics(MirrorNeuronMagics(ipython, session))
    # A %%mn_step cell whose body awaits runs on the kernel's loop, like any awaiting cell.
    awaiting.install(ipython, ASYNC_TWIN)


def unload_ipython_extension(ipython: Any) -> None:
    from .kernel import awaiting

    awaiting.uninstall(ipython)
    session = getattr(ipython, _SESSION_ATTR, None)
    if session is not None:
        session.close()
        delattr(ipython, _SESSION_ATTR)


# -- public API, imported on first use so `import mirrorneuron_nb` stays light -------------
# (The module is not named `durable`: importing a submodule binds its name on the package,
# which would shadow the `durable` decorator.)

_LAZY = {
    "durable": "kernel.durable",
    "call": "kernel.durable",
    "sleep": "kernel.waits",
    "wait_until": "kernel.waits",
    "WaitTimeout": "errors",
    "flush": "kernel.barrier",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


# -- Jupyter discovery hooks: plain data, nothing imported until the server loads us ------

LABEXTENSION_NAME = "mirrorneuron-nb"


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "mirrorneuron_nb.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": LABEXTENSION_NAME}]
