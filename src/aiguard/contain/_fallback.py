"""Fallback ladders: serve a previous model, rules or a constant when the model fails.

One core, :class:`~aiguard.contain._ladder.Ladder` (in ``_ladder.py``), tries
its tiers in order and judges each tier's output with the optional check;
:func:`fallback` (here) and the ``Guard`` are thin shells over it.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import numpy as np

from aiguard._core._matcher import exception_matcher
from aiguard.contain._checks import Check, judge
from aiguard.contain._ladder import Ladder, rejection
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    OnSpec = (
        type[BaseException]
        | Callable[[BaseException], object]
        | Sequence[type[BaseException] | Callable[[BaseException], object]]
    )

__all__ = ["Ladder", "fallback"]

P = ParamSpec("P")
R = TypeVar("R")

class _Shell:
    """Decisions shared by the sync and async wrappers of :func:`fallback`."""

    __slots__ = ("check", "ladder", "matches", "rows")

    def __init__(
        self, ladder: Ladder, matches: Callable[[BaseException], bool], *, rows: bool
    ) -> None:
        self.ladder = ladder
        self.check = ladder.check
        self.matches = matches
        self.rows = rows

    def verdict(self, out: Any, args: tuple[Any, ...]) -> Any:
        """None to accept *out*; else the cause and the per-row mask (None: whole call)."""
        check = self.check
        assert check is not None
        verdict = judge(check, out)
        if verdict is True or (verdict is not False and verdict.all()):
            return None
        cause = rejection("model output", check, verdict)
        rows = verdict is not False and self.by_rows(args) and len(verdict) == len(args[0])
        return cause, (verdict if rows else None)

    def by_rows(self, args: tuple[Any, ...]) -> bool:
        return self.rows and bool(args) and np.ndim(args[0]) > 0

    def recover(self, cause: BaseException, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Serve the whole call (every row of a batch) from the ladder."""
        if self.by_rows(args):
            return self.ladder.serve_rows(None, None, args, kwargs, cause=cause)[0]
        return self.ladder.serve(args, kwargs, cause=cause)[0]

    async def arecover(self, cause: BaseException, args: tuple[Any, ...],
                       kwargs: dict[str, Any]) -> Any:
        """Async twin of :meth:`recover`."""
        if self.by_rows(args):
            return (await self.ladder.aserve_rows(None, None, args, kwargs, cause=cause))[0]
        return (await self.ladder.aserve(args, kwargs, cause=cause))[0]

    def repair(self, out: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The model's output as served: itself, its bad rows replaced, or the ladder's."""
        bad = self.verdict(out, args)
        if bad is None:
            return out
        cause, mask = bad
        if mask is not None:
            return self.ladder.serve_rows(out, mask, args, kwargs, cause=cause)[0]
        return self.recover(cause, args, kwargs)

    async def arepair(self, out: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Async twin of :meth:`repair`."""
        bad = self.verdict(out, args)
        if bad is None:
            return out
        cause, mask = bad
        if mask is not None:
            return (await self.ladder.aserve_rows(out, mask, args, kwargs, cause=cause))[0]
        return await self.arecover(cause, args, kwargs)


def _sync_wrapper(fn: Callable[..., Any], shell: _Shell) -> Callable[..., Any]:
    matches, recover, repair = shell.matches, shell.recover, shell.repair

    if shell.check is None:

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if not matches(exc):
                    raise
                return recover(exc, args, kwargs)

        return call

    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            out = fn(*args, **kwargs)
        except Exception as exc:
            if not matches(exc):
                raise
            return recover(exc, args, kwargs)
        return repair(out, args, kwargs)

    return checked


def _async_wrapper(fn: Callable[..., Any], shell: _Shell) -> Callable[..., Any]:
    matches, recover, repair = shell.matches, shell.arecover, shell.arepair

    async def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            out = await fn(*args, **kwargs)
        except Exception as exc:
            if not matches(exc):
                raise
            return await recover(exc, args, kwargs)
        if shell.check is None:
            return out
        return await repair(out, args, kwargs)

    return checked


def fallback(
    handler: Callable[..., Any],
    *more_handlers: Callable[..., Any],
    on: OnSpec = (Exception,),
    check: Check | Callable[[Any], Any] | None = None,
    rows: bool = False,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Serve *handler* (then each of *more_handlers*) when the model fails.

    The decorated function (sync or ``async def``) is called first. When it
    raises an exception matching *on*, or its output fails *check*, the
    handlers are tried in order, each with the model's own arguments: a
    ladder such as previous model, then rules, then a constant. A tier is
    tried only if the one before raised or its output failed *check*. If every
    tier fails, :class:`~aiguard.errors.FallbackFailedError` is raised with
    ``errors`` (one entry per tier) and the model's exception (or an
    :class:`~aiguard.errors.InvalidInputError` describing its failing output)
    as ``__cause__``. Exceptions not matching *on* propagate unchanged.

    Handlers may be plain or ``async`` whatever the model is: an async handler
    of a sync model runs on a private event loop (in a helper thread when a
    loop is already running), a sync handler of an async model is called
    directly.

    With ``rows=True`` the first positional argument is a batch (rows on axis
    0): only the rows whose output failed *check* are recomputed, by calling
    the handler on just those rows, and merged back in order into a copy of
    the model's output (a numpy array keeping the model's dtype). Each tier's
    rows are checked too; the next tier gets the rows still bad. If the model
    raised, or its output failed as a whole (wrong shape or dtype, collapsed),
    the whole batch goes to the handlers.

    Args:
        handler: the first tier.
        *more_handlers: further tiers, tried in order.
        on: exception types and/or predicates ``exc -> bool`` to serve on
            (``KeyboardInterrupt`` and task cancellation always propagate).
            The default serves every ``Exception``, including
            :class:`~aiguard.errors.CircuitOpenError` and other
            :class:`~aiguard.errors.CallRejectedError` from inner decorators.
        check: judges the model's and each tier's output (see
            :mod:`aiguard.checks`; a plain callable is wrapped with
            :func:`~aiguard.checks.custom`).
        rows: replace only the bad rows of a batch (needs *check*).

    Returns:
        A decorator keeping the decorated function's signature.

    Raises:
        ConfigurationError: a handler is not callable, *on* holds something
            else than exception types or predicates, or ``rows=True`` without
            a check.

    Example:
        >>> import numpy as np
        >>> from aiguard import checks
        >>> def rules(x):
        ...     return np.full(len(x), 0.5)
        >>> @fallback(rules, check=checks.finite(), rows=True)
        ... def predict(x):
        ...     return np.where(x[:, 0] > 0, np.nan, 0.9)
        >>> predict(np.array([[1.0], [-1.0], [2.0]]))
        array([0.5, 0.9, 0.5])
    """
    if not isinstance(rows, bool):
        raise ConfigurationError("rows", "a bool", rows)
    if rows and check is None:
        raise ConfigurationError("check", "given when rows=True (it picks the rows)", check)
    ladder = Ladder((handler, *more_handlers), check=check)
    shell = _Shell(ladder, exception_matcher(on, "on"), rows=rows)

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        wrap = _async_wrapper if inspect.iscoroutinefunction(fn) else _sync_wrapper
        wrapper: Callable[P, R] = functools.wraps(fn)(wrap(fn, shell))
        return wrapper

    return decorate
