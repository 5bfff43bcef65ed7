"""@mn.durable and mn.call in-process, with a real sidecar: replay, keys, trust, bad input.

Call counters prove what ran; the kernel tests (test_kernel_durable.py) prove the same
across failed cells and killed kernels.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import mirrorneuron_nb as mn
from mirrorneuron_nb.errors import InvalidInput
from mirrorneuron_nb.kernel.recording import active, call_key, recording
from mirrorneuron_nb.models import StepStart
from mirrorneuron_nb.store import Store
from mirrorneuron_nb.values.fingerprint import special_fingerprint
from mirrorneuron_nb.values.serializers import restore, snapshot


def attempt_of(store: Store, body: Callable[[], Any], step: str = "s") -> Any:
    """One attempt of a step whose body is `body`, recorded like the runner does."""
    start = StepStart(name=step, cell_id=None, code="", code_hash="h", cache_key="k", options={})
    a = store.begin_attempt("run1", start)
    try:
        with recording(store, run_id="run1", attempt_id=a.id, step=step):
            value = body()
    except BaseException as exc:
        store.fail_attempt(a, repr(exc), "")
        raise
    store.blobs.sync_dirs([])
    from mirrorneuron_nb.models import NewCheckpoint

    store.commit_checkpoint(a, NewCheckpoint("k", "h", 0.0, {}, [], variables=[], new_blobs=[]))
    return value


def failing(body: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        body()
        raise RuntimeError("the step fails after its calls")

    return run


class Counter:
    """Counts executions. Used directly as a durable callable, the object is an argument of
    its calls; its lock has no fingerprint, so those calls replay by identity (in-process)."""

    def __init__(self) -> None:
        self.calls: list[Any] = []
        self.lock = threading.Lock()

    def __call__(self, x: Any) -> Any:
        with self.lock:
            self.calls.append(x)
        return {"x": x, "n": len(self.calls)}


def test_completed_calls_replay_after_a_failed_attempt_and_the_rest_run(store: Store) -> None:
    counter = Counter()

    @mn.durable
    def work(x: int) -> dict[str, int]:
        return counter(x)  # type: ignore[no-any-return]

    with pytest.raises(RuntimeError):
        attempt_of(store, failing(lambda: [work(x) for x in range(700)]))
    assert len(counter.calls) == 700
    results = attempt_of(store, lambda: [work(x) for x in range(1000)])
    assert counter.calls == list(range(1000))  # 0..699 were not run again
    # Replayed values are what the first attempt returned (n counts executions).
    assert results == [{"x": x, "n": x + 1} for x in range(1000)]


def test_the_journal_is_closed_when_the_step_succeeds(store: Store) -> None:
    counter = Counter()
    work = mn.durable(counter)
    attempt_of(store, lambda: [work(x) for x in range(3)])
    attempt_of(store, lambda: [work(x) for x in range(3)])  # a forced re-run
    assert counter.calls == [0, 1, 2, 0, 1, 2]


def test_failed_calls_are_recorded_but_run_again(store: Store) -> None:
    tries: list[int] = []

    @mn.durable
    def flaky(x: int) -> int:
        tries.append(x)
        if x == 2 and tries.count(2) == 1:
            raise ConnectionError("API down")
        return x

    with pytest.raises(ConnectionError):
        attempt_of(store, lambda: [flaky(x) for x in range(4)])
    row = store.conn.execute(
        "SELECT status, error FROM durable_calls WHERE status='failed'"
    ).fetchone()
    assert tuple(row) == ("failed", "ConnectionError: API down")
    assert attempt_of(store, lambda: [flaky(x) for x in range(4)]) == [0, 1, 2, 3]
    assert tries == [0, 1, 2, 2, 3]


def test_equal_arguments_map_to_one_record_per_occurrence(store: Store) -> None:
    counter = Counter()
    draw = mn.durable(counter)
    with pytest.raises(RuntimeError):
        attempt_of(store, failing(lambda: [draw("same") for _ in range(3)]))
    assert len(counter.calls) == 3
    got = attempt_of(store, lambda: [draw("same") for _ in range(4)])
    assert [g["n"] for g in got] == [1, 2, 3, 4]  # in order; only the 4th ran
    assert len(counter.calls) == 4


def test_the_key_covers_code_arguments_and_keywords(store: Store) -> None:
    def f(a: int, b: int = 0) -> int:
        return a + b

    def g(a: int, b: int = 0) -> int:
        return a - b

    assert call_key(f, (1,), {"b": 2})[1] == call_key(f, (1,), {"b": 2})[1]
    assert call_key(f, (1,), {"b": 2})[1] == call_key(f, (1,), {"b": 2})[1]
    assert call_key(f, (1,), {"b": 2})[1] != call_key(f, (1,), {"b": 3})[1]
    assert call_key(f, (1,), {})[1] != call_key(g, (1,), {})[1]  # other code
    assert call_key(f, (1,), {"a": 2, "b": 3})[1] == call_key(f, (1,), {"b": 3, "a": 2})[1]
    assert call_key(f, ([1, 2],), {})[1] != call_key(f, ([1, 3],), {})[1]
    # A partial is its function with those arguments.
    assert call_key(functools.partial(f, 1), (), {"b": 2})[1] == call_key(f, (1,), {"b": 2})[1]
    name, _, unstable = call_key(f, (threading.Lock(),), {})
    assert name.endswith(".f") and unstable is not None


def test_outside_a_step_a_durable_function_just_runs(store: Store) -> None:
    counter = Counter()
    work = mn.durable(counter)
    assert active() is None
    assert [work(1)["n"], work(1)["n"], mn.call(counter, 1)["n"]] == [1, 2, 3]
    assert store.conn.execute("SELECT COUNT(*) FROM durable_calls").fetchone()[0] == 0


def test_an_untrusted_journal_is_not_replayed(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = Counter()
    work = mn.durable(counter)
    with pytest.raises(RuntimeError):
        attempt_of(store, failing(lambda: [work(x) for x in range(5)]))
    # Another user's key: the recorded pickles must not be loaded, so the calls run again.
    monkeypatch.setenv("MIRRORNEURON_KEY_FILE", str(tmp_path / "other.key"))
    with pytest.raises(RuntimeError):
        attempt_of(store, failing(lambda: [work(x) for x in range(5)]))
    assert len(counter.calls) == 10
    # What ran again is recorded with this key and replays from now on.
    assert [r["n"] for r in attempt_of(store, lambda: [work(x) for x in range(5)])] == [
        6,
        7,
        8,
        9,
        10,
    ]
    assert len(counter.calls) == 10


def test_a_result_that_cannot_be_recorded_runs_again(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    opened: list[int] = []

    @mn.durable
    def lock_for(x: int) -> threading.Lock:
        opened.append(x)
        return threading.Lock()

    with pytest.raises(RuntimeError):
        attempt_of(store, failing(lambda: lock_for(1)))
    assert "cannot be recorded" in capsys.readouterr().err
    attempt_of(store, lambda: lock_for(1))
    assert opened == [1, 1]


def test_calls_from_a_thread_pool_are_recorded(store: Store) -> None:
    counter = Counter()

    @mn.durable
    def work(x: int) -> Any:
        return counter(x)

    def fan_out() -> list[Any]:
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(work, range(200)))

    with pytest.raises(RuntimeError):
        attempt_of(store, failing(fan_out))
    again = attempt_of(store, fan_out)
    assert sorted(counter.calls) == list(range(200))
    assert [r["x"] for r in again] == list(range(200))


def test_coroutine_functions_are_awaited_then_recorded(store: Store) -> None:
    calls: list[int] = []

    @mn.durable
    async def fetch(x: int) -> int:
        calls.append(x)
        await asyncio.sleep(0)
        return x * 10

    async def gather() -> list[int]:
        return list(await asyncio.gather(*(fetch(x) for x in range(5))))

    with pytest.raises(RuntimeError):
        attempt_of(store, failing(lambda: asyncio.run(gather())))
    assert attempt_of(store, lambda: asyncio.run(gather())) == [0, 10, 20, 30, 40]
    assert calls == [0, 1, 2, 3, 4]


def test_methods_record_their_instance_as_an_argument(store: Store) -> None:
    ran: list[tuple[str, int]] = []

    class Client:
        def __init__(self, name: str) -> None:
            self.name = name

        @mn.durable
        def ask(self, x: int) -> str:
            ran.append((self.name, x))
            return f"{self.name}:{x}"

    a, b = Client("a"), Client("b")
    with pytest.raises(RuntimeError):
        attempt_of(store, failing(lambda: [a.ask(1), b.ask(1), mn.call(a.ask, 2)]))
    assert attempt_of(store, lambda: [a.ask(1), b.ask(1), mn.call(a.ask, 2)]) == [
        "a:1",
        "b:1",
        "a:2",
    ]
    assert ran == [("a", 1), ("b", 1), ("a", 2)]


def test_decorator_forms_and_metadata() -> None:
    def plain(x: int) -> int:
        """Doc."""
        return x

    for wrapped in (mn.durable(plain), mn.durable()(plain)):
        assert wrapped(3) == 3
        assert wrapped.__name__ == "plain" and wrapped.__doc__ == "Doc."
        assert wrapped.__wrapped__ is plain  # type: ignore[attr-defined]
    once = mn.durable(plain)
    assert mn.durable(once) is once  # decorating twice records once


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (lambda x: x, "cannot record a lambda"),
        (42, "needs a function, got int"),
        ("text", "needs a function, got str"),
    ],
)
def test_misuse_is_a_one_line_error(target: Any, message: str) -> None:
    for use in (mn.durable, lambda t: mn.call(t, 1)):
        with pytest.raises(InvalidInput) as err:
            use(target)
        assert message in str(err.value) and "\n" not in str(err.value)


def test_generators_and_classes_are_refused(store: Store) -> None:
    def gen() -> Iterator[int]:
        yield 1

    async def agen() -> Any:
        yield 1

    class Thing:
        pass

    for target, message in (
        (gen, "cannot record generator function"),
        (agen, "cannot record async generator function"),
        (Thing, "is a class"),
    ):
        with pytest.raises(InvalidInput, match=message) as err:
            mn.durable(target)
        assert "\n" not in str(err.value)
    with pytest.raises(InvalidInput, match="generator"):
        attempt_of(store, lambda: mn.call(gen))
    assert store.conn.execute("SELECT COUNT(*) FROM durable_calls").fetchone()[0] == 0


def test_a_durable_function_checkpoints_with_a_stable_fingerprint() -> None:
    ns: dict[str, Any] = {"__name__": "__main__"}
    exec(
        "import mirrorneuron_nb as mn\n@mn.durable\ndef f(x):\n    return x + OFFSET\nOFFSET = 1\n",
        ns,
    )
    f = ns["f"]
    assert f.__module__ == "__main__"
    first = special_fingerprint(f)
    assert first is not None and first == special_fingerprint(ns["f"])
    # Restored by value into another namespace, it still works and fingerprints the same.
    import sys

    main = sys.modules["__main__"]
    saved = getattr(main, "f", None)
    snap = snapshot(f)
    target: dict[str, Any] = {"__name__": "__main__", "OFFSET": 10}
    back = restore("f", snap.serializer, snap.stream, list(snap.buffers), target)
    assert saved is getattr(main, "f", None)
    assert back(1) == 11
    assert special_fingerprint(back) == first


def test_the_signing_key_is_created_once_when_threads_first_use_it_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: durable calls in a thread pool signed with a half-written key."""
    from mirrorneuron_nb.values.signing import signing_key

    monkeypatch.setenv("MIRRORNEURON_KEY_FILE", str(tmp_path / "fresh" / "signing.key"))
    barrier = threading.Barrier(16)

    def first_use(_: int) -> bytes:
        barrier.wait()
        return signing_key()

    with ThreadPoolExecutor(16) as pool:
        keys = set(pool.map(first_use, range(16)))
    assert len(keys) == 1 and len(keys.pop()) == 32
    assert [p.name for p in (tmp_path / "fresh").iterdir()] == ["signing.key"]
