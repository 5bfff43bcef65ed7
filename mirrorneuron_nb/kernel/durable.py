"""`@mn.durable` and `mn.call(fn, ...)`: function calls a step records and never repeats.

Inside a `%%mn_step`, each call's result (or exception) is written to the sidecar's
journal as soon as the call returns. When the step runs again after a failure, a retry or
a kernel crash, a call that completed returns its recorded result without running; one
that failed runs again. Outside a step a durable function is just the function.

    import mirrorneuron_nb as mn

    @mn.durable
    def summarize(doc): ...

    answer = mn.call(client.complete, prompt, model="small")
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, cast, overload

from ..errors import InvalidInput
from .recording import Recording, active

P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["call", "durable", "is_durable"]

_MARK = "__mn_durable__"


@overload
def durable(fn: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def durable() -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def durable(fn: Any = None, /) -> Any:
    """Record this function's calls inside a step (`@mn.durable` or `@mn.durable()`)."""
    if fn is None:
        return _decorate
    return _decorate(fn)


def call(fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
    """`fn(*args, **kwargs)`, recorded as a durable call when a step is running.

    For a coroutine function this returns an awaitable, like calling it would.
    """
    __tracebackhide__ = True
    _check(fn, "mn.call")
    if is_durable(fn):
        return fn(*args, **kwargs)
    if inspect.iscoroutinefunction(fn):
        return _ainvoke(fn, args, kwargs)  # type: ignore[return-value]
    return cast(R, _invoke(fn, args, kwargs))


def is_durable(fn: Any) -> bool:
    return getattr(fn, _MARK, False) is True


def _decorate(fn: Callable[P, R]) -> Callable[P, R]:
    _check(fn, "@mn.durable")
    if isinstance(fn, type):
        raise InvalidInput(
            f"@mn.durable: {fn.__qualname__!r} is a class; decorate a function or method"
        )
    if is_durable(fn):
        return fn
    if inspect.iscoroutinefunction(fn):
        wrapper = _async_wrapper(fn, _ainvoke)
    else:
        wrapper = _sync_wrapper(fn, _invoke)
    functools.update_wrapper(wrapper, fn)
    setattr(wrapper, _MARK, True)
    return wrapper


def _check(fn: Any, what: str) -> None:
    """Reject what cannot be recorded, before anything runs or is written."""
    if not callable(fn):
        raise InvalidInput(f"{what} needs a function, got {type(fn).__name__}")
    target = fn.func if isinstance(fn, functools.partial) else fn
    name = getattr(target, "__qualname__", type(target).__name__)
    if getattr(target, "__name__", None) == "<lambda>":
        raise InvalidInput(
            f"{what} cannot record a lambda: define it with `def` so its calls have a stable name"
        )
    if inspect.isasyncgenfunction(target):
        raise InvalidInput(
            f"{what} cannot record async generator function {name!r}: its results are produced "
            "lazily; collect them in a function that returns a list"
        )
    if inspect.isgeneratorfunction(target):
        raise InvalidInput(
            f"{what} cannot record generator function {name!r}: its results are produced "
            "lazily; collect them in a function that returns a list"
        )


# The wrappers reference nothing but their closure: a step that defines a durable function
# checkpoints it, and it is restored by value into a new kernel, where this module's globals
# are not the namespace it runs in. Their code never changes, so their fingerprint is stable.


def _sync_wrapper(fn: Callable[..., Any], invoke: Callable[..., Any]) -> Callable[..., Any]:
    def durable_call(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        return invoke(fn, args, kwargs)

    return durable_call


def _async_wrapper(fn: Callable[..., Any], invoke: Callable[..., Any]) -> Callable[..., Any]:
    async def durable_call(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        return await invoke(fn, args, kwargs)

    return durable_call


def _invoke(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    __tracebackhide__ = True
    rec: Recording | None = active()
    if rec is None:
        return fn(*args, **kwargs)
    pending = rec.begin(fn, args, kwargs)
    if pending.replayed:
        return pending.value
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:
        rec.failed(pending, exc)
        raise
    rec.succeeded(pending, result)
    return result


async def _ainvoke(
    fn: Callable[..., Coroutine[Any, Any, Any]], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    __tracebackhide__ = True
    rec = active()
    if rec is None:
        return await fn(*args, **kwargs)
    # The occurrence is taken before awaiting: calls started together (asyncio.gather)
    # are numbered in the order they were made, not the order they finish.
    pending = rec.begin(fn, args, kwargs)
    if pending.replayed:
        return pending.value
    try:
        result = await fn(*args, **kwargs)
    except BaseException as exc:
        rec.failed(pending, exc)
        raise
    rec.succeeded(pending, result)
    return result
