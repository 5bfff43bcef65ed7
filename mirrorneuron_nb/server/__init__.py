"""jupyter_server extension: the REST API the Steps panel reads (see routes.py).

It reads sidecars through read-only connections and writes only resets and approval
decisions; it never loads a checkpoint's values and never imports the kernel side (magics,
runner).
"""

from __future__ import annotations

import weakref
from typing import Any

from .routes import setup_routes
from .sidecars import Sidecars


def _load_jupyter_server_extension(serverapp: Any) -> None:
    sidecars = Sidecars()
    setup_routes(serverapp.web_app, sidecars)
    # Module extensions get no stop hook: close the connections when the app goes away.
    weakref.finalize(serverapp.web_app, sidecars.close)
    serverapp.log.info(
        "mirrorneuron_nb: Steps panel API at %smirrorneuron/api/", serverapp.base_url
    )
