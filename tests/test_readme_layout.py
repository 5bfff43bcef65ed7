"""The README's layout names every module of the package and of the labextension's
sources: a module added without a line there fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def layout() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Layout")
    return (
        text[start : text.index("\n## ", start + 1)]
        if "\n## " in text[start + 1 :]
        else text[start:]
    )


def test_every_python_module_is_in_the_layout() -> None:
    listed = set(re.findall(r"\b([a-z_]+\.py)\b", layout()))
    modules = {p.name for p in (ROOT / "mirrorneuron_nb").rglob("*.py") if p.name != "__init__.py"}
    assert modules - listed == set()


def test_every_labextension_source_is_in_the_layout() -> None:
    text = layout()
    sources = {p.stem for p in (ROOT / "labextension" / "src").glob("*.ts")}
    missing = {s for s in sources if f"{s}.ts" not in text}
    assert missing == set()
