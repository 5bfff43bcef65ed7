"""What ties the server, the front end and the package together: no kernel imports in the
server, the status names the panel draws, the TypeScript twins of the API models, and the
names and versions Jupyter uses to find the extensions."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import types
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

import mirrorneuron_nb
from mirrorneuron_nb.models import StepStatus
from mirrorneuron_nb.server import api_models

REPO = Path(__file__).resolve().parents[2]
API_TS = REPO / "labextension" / "src" / "api.ts"


def _modules_after(statement: str) -> set[str]:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"{statement}; import sys, json; print(json.dumps(list(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(out.stdout))


def test_server_never_imports_the_kernel_side() -> None:
    loaded = _modules_after("import mirrorneuron_nb.server")
    for module in (
        "mirrorneuron_nb.kernel.magics",
        "mirrorneuron_nb.kernel.runner",
        "mirrorneuron_nb.kernel.resume",
        "mirrorneuron_nb.values.serializers",
        "IPython",
        "ipykernel",
    ):
        assert module not in loaded, module


def test_package_import_stays_light() -> None:
    loaded = _modules_after("import mirrorneuron_nb")
    assert not {"jupyter_server", "tornado", "pydantic", "mirrorneuron_nb.server"} & loaded


def test_jupyter_discovery_hooks() -> None:
    assert mirrorneuron_nb._jupyter_server_extension_points() == [
        {"module": "mirrorneuron_nb.server"}
    ]
    assert mirrorneuron_nb._jupyter_labextension_paths() == [
        {"src": "labextension", "dest": "mirrorneuron-nb"}
    ]
    package = json.loads((REPO / "labextension" / "package.json").read_text())
    assert package["name"] == mirrorneuron_nb.LABEXTENSION_NAME
    assert package["version"] == mirrorneuron_nb.__version__
    enable = json.loads(
        (REPO / "jupyter-config" / "server-config" / "mirrorneuron_nb.json").read_text()
    )
    assert enable == {"ServerApp": {"jpserver_extensions": {"mirrorneuron_nb": True}}}


def test_every_core_status_can_be_drawn() -> None:
    drawable = set(typing.get_args(api_models.StatusName))
    assert {s.value for s in StepStatus} <= drawable
    ts_union = re.search(r"export type StatusName =([^;]*);", API_TS.read_text())
    assert ts_union is not None
    assert set(re.findall(r"'([a-z_]+)'", ts_union.group(1))) == drawable


def test_approval_states_match() -> None:
    ts_union = re.search(r"export type ApprovalState =([^;]*);", API_TS.read_text())
    assert ts_union is not None
    assert set(re.findall(r"'([a-z_]+)'", ts_union.group(1))) == set(
        typing.get_args(api_models.ApprovalState)
    )


def _ts_fields(interface: str) -> dict[str, set[str]]:
    """Field name -> the members of its TypeScript type union."""
    match = re.search(rf"export interface {interface} \{{(.*?)\n\}}", API_TS.read_text(), re.S)
    assert match is not None, interface
    fields = re.findall(r"^\s+([a-z_]+)\??: ([^;]+);", match.group(1), re.M)
    return {name: {t.strip() for t in ts.split("|")} for name, ts in fields}


# Named unions of api_models and their TypeScript aliases.
ALIASES = {"StatusName": api_models.StatusName, "ApprovalState": api_models.ApprovalState}
SCALARS = {str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def _ts_type(annotation: object) -> set[str]:
    """The TypeScript union a pydantic field annotation should be written as."""
    for alias, literal in ALIASES.items():
        if annotation == literal:
            return {alias}
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return set().union(*(_ts_type(a) for a in typing.get_args(annotation)))
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        (ts,) = _ts_type(item)
        return {f"{ts}[]"}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {f"I{annotation.__name__}"}
    assert annotation in SCALARS, annotation
    return {SCALARS[annotation]}


@pytest.mark.parametrize(
    ("interface", "model"),
    [
        ("IStepRow", api_models.StepRow),
        ("IMissingInputInfo", api_models.MissingInputInfo),
        ("ISummary", api_models.Summary),
        ("IStepsResponse", api_models.StepsResponse),
        ("IInvalidCellInfo", api_models.InvalidCellInfo),
        ("IVariableInfo", api_models.VariableInfo),
        ("IOutputInfo", api_models.OutputInfo),
        ("IAttemptInfo", api_models.AttemptInfo),
        ("ICheckpointInfo", api_models.CheckpointInfo),
        ("IStepDetail", api_models.StepDetail),
        ("IResetResponse", api_models.ResetResponse),
        ("IApprovalInfo", api_models.ApprovalInfo),
        ("IApproveResponse", api_models.ApproveResponse),
    ],
)
def test_typescript_types_match_the_models(interface: str, model: type[BaseModel]) -> None:
    expected = {name: _ts_type(f.annotation) for name, f in model.model_fields.items()}
    assert _ts_fields(interface) == expected
