"""`%%mn_step` lines are parsed once per kernel, and a line that is only a name skips
argparse: both must give exactly what argparse gives (a real IPython shell)."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from mirrorneuron_nb.kernel.magics import MirrorNeuronMagics


@pytest.fixture
def magics() -> MirrorNeuronMagics:
    session: Any = None  # parsing never touches the session
    # History in memory: the shell outlives this test's tmp dir (its IPYTHONDIR), and
    # IPython writes the history at exit, when pytest has deleted that dir.
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    return MirrorNeuronMagics(InteractiveShell.instance(config=config), session)


@pytest.mark.parametrize("line", ["t1", "  load_data ", "a-b_c", "9"])
def test_a_plain_name_parses_as_argparse_parses_it(magics: MirrorNeuronMagics, line: str) -> None:
    fast = magics._parse(line)
    assert fast == magics._parse_line(line)
    # The same line with an option spelled at its default goes through argparse.
    assert fast == magics._parse(f"{line.strip()} --kind compute")


def test_a_parsed_line_is_kept_and_a_bad_one_is_refused_each_time(
    magics: MirrorNeuronMagics,
) -> None:
    line = "s --retries 2 --outputs a,b"
    first = magics._parse(line)
    assert magics._parse(line) is first
    assert first[1].retries == 2 and first[1].outputs == ("a", "b")
    for _ in range(2):
        with pytest.raises(UsageError, match="invalid step name"):
            magics._parse("x" * 200)
        with pytest.raises(UsageError, match="--retries"):
            magics._parse("s --retries -1")
