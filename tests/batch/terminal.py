"""`mn-nb` with its stderr on a pseudo-terminal, as a person at a terminal sees it (a
progress bar is drawn only there)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path


def on_terminal(
    *args: str, cwd: Path | None = None, timeout: float = 240
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run `mn-nb ARGS` with stderr on a pty 100 columns wide (CI unset); returns the
    process (stdout piped) and what the terminal showed."""
    primary, secondary = pty.openpty()
    # A new pty is 0 columns wide, where tqdm draws nothing: give it a terminal's size.
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    chunks: list[bytes] = []

    def drain() -> None:
        # Read while the process runs: Linux drops what is unread once the terminal closes.
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the other end is closed
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "mirrorneuron_nb.batch.cli", *args],
            stdout=subprocess.PIPE,
            stderr=secondary,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=timeout,
            env=env,
            cwd=cwd,
        )
    finally:
        os.close(secondary)
        reader.join(timeout=10)
        os.close(primary)
    return proc, b"".join(chunks).decode(errors="replace")
