"""The fallback core: a ladder of tiers tried in order until one's output passes the check.

:class:`Ladder` is used by :func:`~aiguard.fallback` and by the
:class:`~aiguard.Guard`. With a batch, :meth:`Ladder.serve_rows` recomputes
only the rows that failed, on just those rows, and merges them back in order.
"""

from __future__ import annotations

import functools
import inspect
import sys
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from aiguard._core._asyncbridge import run_sync
from aiguard.contain._checks import Check, as_check, judge
from aiguard.errors import ConfigurationError, FallbackFailedError, InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["Ladder", "rejection"]

_ndarray: Final = np.ndarray


def _is_async(fn: object) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an object whose __call__ is async
    )


def _tier_names(handlers: tuple[Callable[..., Any], ...]) -> tuple[str, ...]:
    """A tier is named after its function; lambdas, partials and objects get a generic name."""
    generic = (
        ("fallback",)
        if len(handlers) == 1
        else tuple(f"fallback[{i}]" for i in range(len(handlers)))
    )
    names = [getattr(h, "__name__", None) for h in handlers]
    return tuple(
        name
        if isinstance(name, str)
        and name.isidentifier()
        and name != "model"
        and names.count(name) == 1
        else generic[i]
        for i, name in enumerate(names)
    )


def rejection(what: str, check: Check | None, verdict: Any) -> InvalidInputError:
    """Describe output that failed *check* (verdict False or a mask with bad rows)."""
    if verdict is False:
        got: object = "output failing the check"
    else:
        got = f"{int(verdict.size - np.count_nonzero(verdict))} of {verdict.size} rows failing"
    return InvalidInputError(what, f"accepted by {check!r}", got)


class _Rows:
    """The state of one per-row replacement: which rows are still bad, the merged output."""

    __slots__ = ("batch", "failures", "first", "idx", "out", "total")

    def __init__(self, result: Any, ok: Any, args: tuple[Any, ...]) -> None:
        if not args:
            raise InvalidInputError("args", "a batch as first positional argument", "none")
        first = args[0]
        batch = first if type(first) is _ndarray or hasattr(first, "iloc") else np.asarray(first)
        n = len(batch)
        mask = np.asarray(False if result is None else ok, dtype=bool)
        if mask.ndim == 0:
            mask = np.full(n, bool(mask))
        elif mask.shape != (n,):
            raise InvalidInputError("ok", f"a mask of shape ({n},)", mask.shape)
        self.out: np.ndarray[Any, Any] | None = None
        if result is not None:
            self.out = np.array(result, copy=True)
            if self.out.ndim == 0 or self.out.shape[0] != n:
                raise InvalidInputError("result", f"a batch of {n} rows", self.out.shape)
        self.batch = batch
        self.first = first
        self.idx = np.flatnonzero(~mask)
        self.total = int(self.idx.size)
        self.failures: list[BaseException] = []

    def take(self) -> Any:
        """The rows still bad, in order (the untouched argument when all are)."""
        if self.idx.size == len(self.batch):
            return self.first
        if hasattr(self.batch, "iloc"):
            return self.batch.iloc[self.idx]
        return self.batch[self.idx]

    def absorb(self, name: str, produced: Any, check: Check | None) -> bool:
        """Merge a tier's rows that pass *check*; True when no bad row is left."""
        what = f"output of fallback tier {name!r}"
        y = np.asarray(produced)
        k = self.idx.size
        if y.ndim and y.shape[0] != k:
            self.failures.append(InvalidInputError(what, f"{k} rows", y.shape[0]))
            return False
        verdict = True if check is None else judge(check, y)
        if verdict is False:
            self.failures.append(rejection(what, check, verdict))
            return False
        out = self.out
        if out is None:  # the model produced nothing: this tier's rows are the base
            self.out = np.array(y, copy=True) if y.ndim else np.full(k, y)
        elif not np.can_cast(y.dtype, out.dtype, casting="same_kind"):
            self.failures.append(InvalidInputError(what, f"castable to {out.dtype}", y.dtype))
            return False
        else:
            try:
                with np.errstate(all="ignore"):
                    if verdict is True:
                        out[self.idx] = y
                    else:
                        out[self.idx[verdict]] = y[verdict]
            except ValueError as exc:  # rows of another shape than the model's
                self.failures.append(exc)
                return False
        if verdict is not True:
            self.idx = self.idx[~verdict]
            if self.idx.size:
                self.failures.append(rejection(what, check, verdict))
                return False
        return True


class Ladder:
    """The fallback core: tiers tried in order until one's output passes the check.

    Tier *i* runs only if tier *i-1* raised or its output failed *check*. Used by
    :func:`fallback` and by the ``Guard``; not public API.

    Args:
        handlers: the tiers, each called with the model's arguments; plain or async.
        check: judges each tier's output (None: any output is accepted).
        guard: name put on the :class:`FallbackFailedError` raised when all fail.

    Example:
        >>> def broken(x):
        ...     raise ValueError(x)
        >>> Ladder([broken, lambda x: 0.0], check=None).serve((1,), {})
        (0.0, 'fallback[1]')
    """

    __slots__ = ("_check", "_guard", "_sync", "_tiers", "names", "simple")

    @property
    def check(self) -> Check | None:
        """The check judging each tier's output (None: any output is accepted)."""
        return self._check

    def __init__(
        self,
        handlers: Sequence[Callable[..., Any]],
        *,
        check: Callable[[Any], Any] | None,
        guard: str | None = None,
    ) -> None:
        tiers = tuple(handlers)
        if not tiers:
            raise ConfigurationError("fallback", "at least one handler", handlers)
        for h in tiers:
            if not callable(h):
                raise ConfigurationError("fallback handler", "a callable", h)
        self.names: tuple[str, ...] = _tier_names(tiers)
        self._check = None if check is None else as_check(check)
        self._guard = guard
        asyncs = tuple(_is_async(h) for h in tiers)
        self._tiers = tuple(zip(self.names, tiers, asyncs, strict=True))
        self._sync = tuple(
            (name, functools.partial(run_sync, h) if a else h) for name, h, a in self._tiers
        )
        #: one tier and no check: callers may call ``_sync[0]`` directly.
        self.simple = len(tiers) == 1 and self._check is None

    def _accepts(self, name: str, out: Any, failures: list[BaseException]) -> bool:
        check = self._check
        assert check is not None
        verdict = judge(check, out)
        if verdict is True or (verdict is not False and verdict.all()):
            return True
        failures.append(rejection(f"output of fallback tier {name!r}", check, verdict))
        return False

    def _error(self, failures: list[BaseException]) -> FallbackFailedError:
        parts = "; ".join(
            f"{name}: {type(e).__name__}: {e}" for name, e in zip(self.names, failures, strict=True)
        )
        return FallbackFailedError(
            f"every fallback tier failed ({parts})", guard=self._guard, errors=tuple(failures)
        )

    def serve(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], *, cause: BaseException | None = None
    ) -> tuple[Any, str]:
        """Serve the whole call.

        Args:
            args: the model's positional arguments.
            kwargs: the model's keyword arguments.
            cause: why the model was not used (default: the exception being handled).

        Returns:
            ``(result, tier name)``.

        Raises:
            FallbackFailedError: every tier raised or failed the check; ``errors``
                holds one entry per tier, ``__cause__`` is *cause*.
        """
        if self.simple:  # one unchecked tier, the common rule-based fallback
            name, fn = self._sync[0]
            try:
                return fn(*args, **kwargs), name
            except Exception as exc:  # chained as the loop below would: cause, else the
                raise self._error([exc]) from (cause or exc.__context__)  # error in handling
        failures: list[BaseException] = []
        for name, fn in self._sync:
            try:
                out = fn(*args, **kwargs)
            except Exception as exc:
                failures.append(exc)
                continue
            if self._check is None or self._accepts(name, out, failures):
                return out, name
        raise self._error(failures) from (cause or sys.exc_info()[1])

    async def aserve(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], *, cause: BaseException | None = None
    ) -> tuple[Any, str]:
        """Serve the whole call from async code (async tiers awaited, sync ones called).

        Same arguments, result and errors as :meth:`serve`.
        """
        failures: list[BaseException] = []
        for name, fn, is_async in self._tiers:
            try:
                out = fn(*args, **kwargs)
                if is_async:
                    out = await out
            except Exception as exc:
                failures.append(exc)
                continue
            if self._check is None or self._accepts(name, out, failures):
                return out, name
        raise self._error(failures) from (cause or sys.exc_info()[1])

    def serve_rows(
        self,
        result: Any,
        ok: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        cause: BaseException | None = None,
    ) -> tuple[Any, str, int]:
        """Recompute only the bad rows of a batch and merge them back in order.

        Each tier is called with ``args[0][~ok]`` (rows on axis 0; ``.iloc`` for
        pandas objects) and the other arguments unchanged, and must return one
        row per input row, or a single value for all of them. Rows of its output
        that pass the check are written into a copy of *result* (keeping its
        dtype); the next tier gets only the rows still bad.

        Args:
            result: the model's output, or None when it produced none (it
                raised): the first tier's output then forms the merged result.
            ok: the per-row mask (True: keep the model's row), or a bool for all rows.
            args: the model's positional arguments; ``args[0]`` is the batch.
            kwargs: the model's keyword arguments.
            cause: why rows were replaced (default: the exception being handled).

        Returns:
            ``(merged array, name of the last tier used, rows replaced)``;
            ``(result, "model", 0)`` when no row is bad.

        Raises:
            FallbackFailedError: rows were still bad after every tier.
            InvalidInputError: no batch in *args*, or *ok* / *result* do not match it.
        """
        plan = _Rows(result, ok, args)
        if not plan.total:
            return result, "model", 0
        rest = args[1:]
        for name, fn in self._sync:
            try:
                produced = fn(plan.take(), *rest, **kwargs)
            except Exception as exc:
                plan.failures.append(exc)
                continue
            if plan.absorb(name, produced, self._check):
                return plan.out, name, plan.total
        raise self._error(plan.failures) from (cause or sys.exc_info()[1])

    async def aserve_rows(
        self,
        result: Any,
        ok: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        cause: BaseException | None = None,
    ) -> tuple[Any, str, int]:
        """Async twin of :meth:`serve_rows` (async tiers awaited, sync ones called)."""
        plan = _Rows(result, ok, args)
        if not plan.total:
            return result, "model", 0
        rest = args[1:]
        for name, fn, is_async in self._tiers:
            try:
                produced = fn(plan.take(), *rest, **kwargs)
                if is_async:
                    produced = await produced
            except Exception as exc:
                plan.failures.append(exc)
                continue
            if plan.absorb(name, produced, self._check):
                return plan.out, name, plan.total
        raise self._error(plan.failures) from (cause or sys.exc_info()[1])
