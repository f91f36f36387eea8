"""The ``kill_switch`` decorator: when a flag is off, the model is not called."""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, overload

from aiguard.errors import ConfigurationError, FeatureDisabledError, InvalidInputError
from aiguard.state._records import validate_name

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiguard.contain.flags._flags import Flags

__all__ = ["kill_switch"]

P = ParamSpec("P")
R = TypeVar("R")


class _Decorator(Protocol):
    def __call__(self, fn: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def kill_switch(name: str, *, flags: Flags, fallback: None = None) -> _Decorator: ...


@overload
def kill_switch(
    name: str, *, flags: Flags, fallback: Callable[P, R]
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def kill_switch(name: str, *, flags: Flags, fallback: Callable[..., Any] | None = None) -> Any:
    """Guard a function with the flag *name*: while it is off, the function is not called.

    The fallback (same signature) serves instead; without one the call raises
    :class:`~aiguard.errors.FeatureDisabledError` (``.flag`` names the flag).
    Works on sync and ``async`` functions (an async function's fallback may
    be sync or async). The check is one :meth:`Flags.enabled` call on the
    local snapshot: no I/O.

    Args:
        name: the flag name.
        flags: the :class:`~aiguard.Flags` set holding the flag.
        fallback: what serves while the flag is off.

    Raises:
        ConfigurationError: an invalid name, *flags* or *fallback*; a sync
            function given an async fallback.

    Example:
        >>> import aiguard as ag
        >>> flags = ag.Flags()
        >>> @kill_switch("recs.personalized", flags=flags, fallback=lambda user: ["bestsellers"])
        ... def recommend(user: str) -> list[str]:
        ...     return [f"picked for {user}"]
        >>> recommend("ana")
        ['picked for ana']
        >>> flags.set("recs.personalized", on=False, reason="drift")
        >>> recommend("ana")
        ['bestsellers']
    """
    _check(name, flags, fallback)
    enabled = flags.enabled
    message = f"feature {name!r} is switched off (kill switch)"
    async_fallback = fallback is not None and inspect.iscoroutinefunction(fallback)

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(fn):
            raise ConfigurationError("fn", "a function", fn)
        if inspect.iscoroutinefunction(fn):
            return functools.wraps(fn)(_async_shell(fn, name, enabled, fallback, message))
        if async_fallback:
            raise ConfigurationError("fallback", f"a sync callable for sync {fn!r}", fallback)
        if fallback is None:

            def refuse(*args: Any, **kwargs: Any) -> Any:
                if enabled(name):
                    return fn(*args, **kwargs)
                raise FeatureDisabledError(message, flag=name)

            return functools.wraps(fn)(refuse)
        serve = fallback

        def switched(*args: Any, **kwargs: Any) -> Any:
            if enabled(name):
                return fn(*args, **kwargs)
            return serve(*args, **kwargs)

        return functools.wraps(fn)(switched)

    return decorate


def _check(name: object, flags: object, fallback: object) -> None:
    try:
        validate_name(name)
    except InvalidInputError as exc:
        raise ConfigurationError("name", exc.expected, name) from None
    if not callable(getattr(flags, "enabled", None)):
        raise ConfigurationError("flags", "an aiguard Flags object", flags)
    if fallback is not None and not callable(fallback):
        raise ConfigurationError("fallback", "a callable or None", fallback)


def _async_shell(
    fn: Callable[..., Any],
    name: str,
    enabled: Callable[[str], bool],
    fallback: Callable[..., Any] | None,
    message: str,
) -> Callable[..., Any]:
    if fallback is None:

        async def refuse(*args: Any, **kwargs: Any) -> Any:
            if enabled(name):
                return await fn(*args, **kwargs)
            raise FeatureDisabledError(message, flag=name)

        return refuse
    serve = fallback
    if inspect.iscoroutinefunction(serve):

        async def switched_async(*args: Any, **kwargs: Any) -> Any:
            if enabled(name):
                return await fn(*args, **kwargs)
            return await serve(*args, **kwargs)

        return switched_async

    async def switched(*args: Any, **kwargs: Any) -> Any:
        if enabled(name):
            return await fn(*args, **kwargs)
        return serve(*args, **kwargs)

    return switched
