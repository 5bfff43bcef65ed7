"""mirrorneuron_nb: durable execution for Jupyter notebooks.

`%load_ext mirrorneuron_nb` registers the %%mn_step, %mn_resume, %mn_status and
%mn_reset magics. Importing this package imports nothing else, so the CLI starts fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_SESSION_ATTR = "_mirrorneuron_session"


def load_ipython_extension(ipython: Any) -> None:
    from .magics import MirrorNeuronMagics
    from .session import KernelSession

    session = getattr(ipython, _SESSION_ATTR, None)
    if session is None:
        session = KernelSession(ipython)
        setattr(ipython, _SESSION_ATTR, session)
    ipython.register_magics(MirrorNeuronMagics(ipython, session))


def unload_ipython_extension(ipython: Any) -> None:
    session = getattr(ipython, _SESSION_ATTR, None)
    if session is not None:
        session.close()
        delattr(ipython, _SESSION_ATTR)
