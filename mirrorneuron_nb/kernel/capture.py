"""Record what a step displays while still showing it live, and replay it later.

Outputs are kept in nbformat's output shape (stream / display_data) so the server,
the CLI and papermill can use them as they are.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any, TextIO

# Beyond this many characters of text a step's recorded output is truncated (the live
# output is not): a step printing a gigabyte of logs should not bloat its checkpoint.
MAX_TEXT = 2_000_000
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


class OutputRecorder:
    def __init__(self) -> None:
        self.outputs: list[dict[str, Any]] = []
        self._text = 0
        self.truncated = False

    def stream(self, name: str, text: str) -> None:
        if not text:
            return
        room = MAX_TEXT - self._text
        if room <= 0:
            self.truncated = True
            return
        text = text[:room]
        self._text += len(text)
        last = self.outputs[-1] if self.outputs else None
        if last is not None and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def display(self, data: dict[str, Any], metadata: dict[str, Any] | None) -> None:
        if WIDGET_MIME in data:
            # A widget view points at a live comm that will not exist on replay.
            data = {k: v for k, v in data.items() if k == "text/plain"}
            if not data:
                return
        self.outputs.append(
            {"output_type": "display_data", "data": dict(data), "metadata": dict(metadata or {})}
        )

    def clear(self) -> None:
        self.outputs.clear()
        self._text = 0


class _Tee:
    """A text stream that forwards to the real one and records what passes."""

    def __init__(self, target: TextIO, name: str, recorder: OutputRecorder) -> None:
        self._target = target
        self._name = name
        self._recorder = recorder

    def write(self, text: str) -> int:
        self._recorder.stream(self._name, text)
        return self._target.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._target, attr)


@contextlib.contextmanager
def capture(shell: Any) -> Iterator[OutputRecorder]:
    recorder = OutputRecorder()
    pub = shell.display_pub
    original_publish = pub.publish
    original_clear = getattr(pub, "clear_output", None)

    def publish(
        data: dict[str, Any], metadata: dict[str, Any] | None = None, *args: Any, **kwargs: Any
    ) -> Any:
        recorder.display(data, metadata)
        return original_publish(data, metadata, *args, **kwargs)

    def clear_output(*args: Any, **kwargs: Any) -> Any:
        recorder.clear()
        return original_clear(*args, **kwargs) if original_clear else None

    out, err = sys.stdout, sys.stderr
    patched = {"publish": publish}
    if original_clear is not None:
        patched["clear_output"] = clear_output
    own = {k: vars(pub)[k] for k in patched if k in vars(pub)}
    for k, v in patched.items():
        setattr(pub, k, v)
    sys.stdout = _Tee(out, "stdout", recorder)
    sys.stderr = _Tee(err, "stderr", recorder)
    try:
        yield recorder
    finally:
        sys.stdout, sys.stderr = out, err
        for k in patched:
            if k in own:
                setattr(pub, k, own[k])
            else:
                delattr(pub, k)  # the class's own method shows through again


def replay(outputs: list[dict[str, Any]]) -> None:
    from IPython.display import publish_display_data

    for output in outputs:
        if output["output_type"] == "stream":
            stream = sys.stderr if output["name"] == "stderr" else sys.stdout
            stream.write(output["text"])
            stream.flush()
        else:
            publish_display_data(output["data"], output.get("metadata") or None)


def flush_inline_figures() -> None:
    """Show pending inline matplotlib figures now, while we are still capturing."""
    backend = sys.modules.get("matplotlib_inline.backend_inline")
    if backend is not None:
        with contextlib.suppress(Exception):
            backend.flush_figures()
