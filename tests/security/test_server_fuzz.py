"""Malformed requests against a real `jupyter server`: every endpoint crossed with every kind
of bad input, then a seeded random mutator over valid requests. Bad input is a 4xx with a
JSON `{code, message}` (one line), never a 5xx or a dropped connection, and the server
still answers a valid request afterwards."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from ..server.builders import Kernelish, notebook
from ..server.process import Reply, ServerProcess, jupyter_server

STEPS = {"load": "x = 1", "gate": "y = x + 1"}
NB = "work/a.ipynb"
SEED = 11
MUTANTS = 150

GETS = {
    "steps": {"path": NB},
    "runs": {"path": NB},
    "events": {"path": NB, "after": "0", "limit": "10"},
    "step": {"path": NB, "name": "load"},
}
POSTS: dict[str, dict[str, Any]] = {
    "reset": {"path": NB, "name": "load"},
    "approve": {"path": NB, "name": "gate", "approve": True, "note": "ok"},
}

# Files named .ipynb that hold other JSON (a list; lists nested past the recursion limit):
# no steps in them, and no error either.
ODD_NOTEBOOKS = ["list.ipynb", "deep.ipynb", "cells.ipynb"]

# Notebook paths no endpoint may accept, each a 4xx (the files are made by `server`).
BAD_PATHS = [
    "",
    " ",
    "\x00.ipynb",
    "work/\x00a.ipynb",
    "work/\x01\x1b[31m\x7f.ipynb",
    "a" * 5000 + ".ipynb",
    ("x" * 300 + "/") * 3 + "a.ipynb",
    "x" * 4096 + ".ipynb",
    "../a.ipynb",
    "work/../../a.ipynb",
    "../" * 40 + "etc/passwd.ipynb",
    "/etc/passwd.ipynb",
    "/",
    "work",
    "work/",
    "dir.ipynb",
    "fifo.ipynb",
    "loop.ipynb",
    "work/a.py",
    "notes.txt",
    "work/missing.ipynb",
    "missing/dir/a.ipynb",
    "work/a.ipynb/x.ipynb",
    "\udcff.ipynb",
    "é/ü.ipynb",
    "%00.ipynb",
    "~/a.ipynb",
]


@dataclass
class Case:
    label: str
    method: str
    target: str
    body: bytes | None = None
    bad: bool = True
    """True: must be a 4xx; False (mutants): anything but a 5xx."""


def query(params: dict[str, str]) -> str:
    # safe="/" keeps paths readable; everything else, NUL and control bytes too, is escaped.
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='/')}" for k, v in params.items())


def raw_query(text: str) -> str:
    """A query string sent as written (invalid escapes and bytes included)."""
    return text


def get(endpoint: str, params: dict[str, str], label: str, bad: bool = True) -> Case:
    return Case(label, "GET", f"/mirrorneuron/api/{endpoint}?{query(params)}", None, bad)


def post(endpoint: str, body: bytes, label: str, bad: bool = True) -> Case:
    return Case(label, "POST", f"/mirrorneuron/api/{endpoint}", body, bad)


def post_json(endpoint: str, data: Any, label: str, bad: bool = True) -> Case:
    return post(endpoint, json.dumps(data).encode(), label, bad)


def systematic() -> Iterator[Case]:
    """Every endpoint x every malformation."""
    for endpoint, valid in GETS.items():
        yield get(endpoint, {k: v for k, v in valid.items() if k != "path"}, "no path")
        for path in BAD_PATHS:
            if "\udcff" in path:
                continue  # not UTF-8: sent as raw bytes below
            yield get(endpoint, {**valid, "path": path}, f"path {path[:40]!r}")
        # tornado turns control characters in query arguments into spaces and strips the
        # ends: these name the valid notebook (anything but a 5xx will do).
        for path in (NB + "\n", NB + "\x00", "\t" + NB, *ODD_NOTEBOOKS):
            yield get(endpoint, {**valid, "path": path}, f"path {path!r}", bad=False)
        yield Case("path %FF", "GET", f"/mirrorneuron/api/{endpoint}?path=%FF%FE.ipynb")
        yield Case("path %ZZ", "GET", f"/mirrorneuron/api/{endpoint}?path=%ZZ.ipynb")
        yield Case("path surrogate", "GET", f"/mirrorneuron/api/{endpoint}?path=%ED%B3%BF.ipynb")
        # The largest request target that reaches the handler (tornado drops request lines
        # and headers over 64 KiB before any handler runs): a clean 414.
        yield get(endpoint, {**valid, "path": "a" * 60_000 + ".ipynb"}, "60k path")
        # Unknown parameters are ignored (Jupyter's own `token` comes as one).
        yield get(endpoint, {**valid, "x" * 100: "y" * 1000}, "unknown parameter", bad=False)
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            yield Case(f"{method} on GET", method, f"/mirrorneuron/api/{endpoint}", b"{}")
    for value in ["9" * 40, "-1", "1.5", "abc", "", "1e3", str(2**63), "0x10", "\u0669"]:
        yield get("events", {**GETS["events"], "after": value}, f"after {value!r}")
    for value in ["0", "501", "-1", "9" * 40, "x", ""]:
        yield get("events", {**GETS["events"], "limit": value}, f"limit {value!r}")
    for name in ["a;b", "", "-x", "x" * 200, "ü", "../load", "lo\x00ad"]:
        yield get("step", {**GETS["step"], "name": name}, f"name {name!r}")
        yield get("events", {**GETS["events"], "step": name}, f"step {name!r}")
    yield get("steps", {**GETS["steps"], "since": "t" * 1000}, "since 1000 chars")

    for endpoint, valid in POSTS.items():
        yield post(endpoint, b"", "empty body")
        yield post(endpoint, b"\xff\xfe{\x00", "not UTF-8")
        yield post(endpoint, json.dumps(valid).encode("utf-16"), "UTF-16")
        for text in ["not json", "{", "{'path': 1}", '{"path": }', "[1,]", "NaN"]:
            yield post(endpoint, text.encode(), f"invalid JSON {text!r}")
        yield post(endpoint, b"[" * 60_000, "60k nested lists")
        yield post(endpoint, b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "10k nested objects")
        yield post(endpoint, b'{"path": ' + b"1" * 10_000 + b"}", "10k-digit number")
        yield post(endpoint, b'{"path": 1e999999}', "huge exponent")
        yield post(endpoint, b" " * 100_000, "100 KB body")
        yield post_json(endpoint, {**valid, "note": "n" * 100_000}, "100 KB field")
        for data in [[], "x", 1, None, True, [valid]]:
            yield post_json(endpoint, data, f"body {data!r}"[:40])
        for field in valid:
            missing = {k: v for k, v in valid.items() if k != field}
            if field != "note":
                yield post_json(endpoint, missing, f"no {field}")
            for wrong in [1, 1.5, None, [], {}, True, "true", "x" * 5000]:
                if (field, wrong) in (("note", None), ("note", "true"), ("approve", True)):
                    continue  # valid
                yield post_json(endpoint, {**valid, field: wrong}, f"{field}={wrong!r}"[:40])
        yield post_json(endpoint, {**valid, "extra": 1}, "unknown field")
        yield post(endpoint, b'{"path": "\\ud800.ipynb", "name": "load"}', "lone surrogate")
        for path in [*BAD_PATHS, NB + "\n", "\t" + NB]:
            yield post_json(endpoint, {**valid, "path": path}, f"path {path[:40]!r}")
        for path in ODD_NOTEBOOKS:
            yield post_json(endpoint, {**valid, "path": path}, f"path {path!r}")
        for name in ["a;b", "", "x" * 200, "../load"]:
            yield post_json(endpoint, {**valid, "name": name}, f"name {name!r}")
    note = {**POSTS["approve"], "note": "\ud800"}
    yield post("approve", json.dumps(note).encode(), "surrogate note")
    for method in ("GET", "PUT", "DELETE"):
        yield Case(f"{method} on reset", method, "/mirrorneuron/api/reset")


CHARS = ["\x00", "\x01", "\x1b", "\x7f", "/", "..", "%", "&", "=", "?", "#", "\\", "é", "😀", " "]


def mutate_text(rng: random.Random, text: str) -> str:
    choice = rng.randrange(5)
    if choice == 0:
        return ""
    if choice == 1:
        return text * rng.randint(2, 300)
    if choice == 2:
        i = rng.randrange(len(text) + 1)
        return text[:i] + rng.choice(CHARS) * rng.randint(1, 5) + text[i:]
    if choice == 3:
        return text[: rng.randrange(len(text) + 1)]
    return "".join(rng.choice(CHARS) for _ in range(rng.randint(1, 30)))


def mutate_value(rng: random.Random, value: Any) -> Any:
    if isinstance(value, str) and rng.random() < 0.6:
        return mutate_text(rng, value)
    return rng.choice([None, 0, -1, 2**70, 1.5, float("inf"), [], {}, [value], {"v": value}, True])


def mutants(rng: random.Random) -> Iterator[Case]:
    """Seeded random mutations of the valid requests: fields dropped, retyped, stretched,
    salted with control characters; JSON text truncated and bytes flipped."""
    for i in range(MUTANTS):
        if rng.random() < 0.5:
            endpoint, valid = rng.choice(list(GETS.items()))
            params = dict(valid)
            for key in rng.sample(list(params), rng.randint(1, len(params))):
                params[key] = mutate_text(rng, params[key])
            if rng.random() < 0.2:
                params[mutate_text(rng, "extra")] = mutate_text(rng, "x")
            yield get(endpoint, params, f"mutant {i}", bad=False)
            continue
        endpoint, valid_body = rng.choice(list(POSTS.items()))
        data: dict[str, Any] = dict(valid_body)
        for key in rng.sample(list(data), rng.randint(1, len(data))):
            if rng.random() < 0.2:
                del data[key]
            else:
                data[key] = mutate_value(rng, data[key])
        raw = json.dumps(data, allow_nan=True).encode()
        if rng.random() < 0.3:
            raw = raw[: rng.randrange(len(raw) + 1)]
        if rng.random() < 0.3 and raw:
            flip = bytearray(raw)
            flip[rng.randrange(len(flip))] = rng.randrange(256)
            raw = bytes(flip)
        yield post(endpoint, raw, f"mutant {i}", bad=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("fuzz_root")
    nb = notebook(root / NB, STEPS)
    k = Kernelish(nb)
    k.succeed("load", STEPS["load"], {"x": 28})
    k.ask("gate", STEPS["gate"], "go?")
    k.close()
    (root / "dir.ipynb").mkdir()
    os.mkfifo(root / "fifo.ipynb")
    (root / "loop.ipynb").symlink_to(root / "loop.ipynb")
    (root / "notes.txt").write_text("hello")
    (root / "list.ipynb").write_text("[1, 2]")
    (root / "deep.ipynb").write_text("[" * 100_000)
    cells: list[Any] = [1, None, {"cell_type": "code", "source": [1, 2]}]
    cells += [{"cell_type": "code", "source": "%%mn_step x\n1", "id": 7}]
    (root / "cells.ipynb").write_text(json.dumps({"cells": cells}))
    notebook(root / "work" / "a.py", {})
    with jupyter_server(root, tmp_path_factory.mktemp("fuzz_home")) as s:
        yield s


def check(reply: Reply, case: Case) -> str | None:
    """What is wrong with this answer, or None."""
    if reply.status >= 500:
        return f"{reply.status} {reply.body[:200]!r}"
    if case.bad and not 400 <= reply.status < 500:
        return f"bad input answered {reply.status}"
    try:
        answer = reply.json()
    except ValueError:
        return f"{reply.status} body is not JSON: {reply.body[:200]!r}"
    if reply.status >= 400:
        if not isinstance(answer, dict) or set(answer) != {"code", "message"}:
            return f"{reply.status} body is not {{code, message}}: {answer!r:.200}"
        message = answer["message"]
        if not isinstance(message, str) or not message or not message.isprintable():
            return f"{reply.status} message is not one printable line: {message!r:.200}"
    return None


def test_malformed_requests_are_4xx_json_and_the_server_keeps_answering(
    server: ServerProcess,
) -> None:
    cases = [*systematic(), *mutants(random.Random(SEED))]
    assert len(cases) >= 200
    problems: list[str] = []
    for case in cases:
        try:
            reply = server.request(case.method, case.target, case.body)
        except OSError as exc:  # a dropped connection, a timeout
            problems.append(f"{case.method} {case.target[:60]!r} [{case.label}]: {exc!r}")
            continue
        wrong = check(reply, case)
        if wrong:
            problems.append(f"{case.method} {case.target[:60]!r} [{case.label}]: {wrong}")
    assert not problems, f"{len(problems)} of {len(cases)} requests:\n" + "\n".join(problems)
    valid = server.request("GET", server.api("steps", query({"path": NB})))
    assert valid.status == 200
    assert [s["name"] for s in valid.json()["steps"]] == ["load", "gate"]


@pytest.mark.parametrize(
    ("method", "target", "body", "status", "code"),
    [
        ("POST", "reset", b" " * 100_000, 413, "body_too_large"),
        # The largest request line that reaches our code: tornado closes the connection,
        # without an answer, once the request line and headers pass 64 KiB.
        ("GET", "steps?path=" + "a" * 65_000, None, 414, "uri_too_long"),
        ("GET", "steps?path=" + "a" * 5000 + ".ipynb", None, 400, "invalid_input"),
        ("GET", f"events?path={NB}&after={'9' * 40}", None, 400, "invalid_input"),
        ("POST", "reset", b'{"path": "\xff.ipynb", "name": "load"}', 400, "invalid_input"),
        ("POST", "reset", b"[" * 60_000, 400, "invalid_input"),
        ("POST", "reset", b'{"path": ' + b"1" * 10_000 + b"}", 400, "invalid_input"),
        ("GET", "steps?path=loop.ipynb", None, 400, "invalid_input"),
        ("GET", "steps?path=fifo.ipynb", None, 404, "not_found"),
        ("PUT", "reset", b"{}", 405, "method_not_allowed"),
    ],
)
def test_limits_and_malformations_answer_their_own_codes(
    server: ServerProcess, method: str, target: str, body: bytes | None, status: int, code: str
) -> None:
    reply = server.request(method, f"/mirrorneuron/api/{target}", body)
    assert (reply.status, reply.json()["code"]) == (status, code), reply.body[:300]
