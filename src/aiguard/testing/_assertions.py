"""One-line assertions about what a guard did, with messages that say what happened."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from aiguard.contain.breaker._breaker import BreakerState, CircuitBreaker
from aiguard.errors import ConfigurationError
from aiguard.testing._faults import Injector
from aiguard.testing._hook import guard_of

if TYPE_CHECKING:
    from collections.abc import Iterator

    from aiguard.contain.guard._guard import Guard
    from aiguard.contain.guard._outcome import Outcome

__all__ = [
    "assert_breaker_state",
    "assert_no_model_call",
    "assert_reason",
    "assert_served_by",
]


def _last(target: Any) -> tuple[Guard, Outcome]:
    guard = guard_of(target)
    outcome = guard.last_outcome
    if outcome is None:
        raise AssertionError(
            f"guard {guard.name!r} has no outcome in this thread or task yet: "
            "call the guarded function first (outcomes are per thread / asyncio task)"
        )
    return guard, outcome


def _describe(outcome: Outcome) -> str:
    text = f"served_by={outcome.served_by!r}, reason={outcome.reason!r}, stage={outcome.stage!r}"
    if outcome.rows_replaced:
        text += f", rows_replaced={outcome.rows_replaced}"
    if outcome.error is not None:
        text += f", error={outcome.error!r}"
    return text


def assert_served_by(target: Any, expected: str) -> Outcome:
    """Assert who answered the last call through the guard (in this thread or task).

    Args:
        target: a Guard, a function it decorates, or an :func:`aiguard.wrap` object.
        expected: ``"model"`` (the model's answer, no row replaced),
            ``"fallback"`` (any fallback tier, for the whole call or some
            rows: ``outcome.fallback``), ``"raised"`` (the call raised to the
            caller), or a tier's name (``"popular_items"``) that served the
            whole call.

    Returns:
        the :class:`~aiguard.Outcome`, for further checks.

    Raises:
        AssertionError: with what actually served the call, and why.

    Example:
        >>> import aiguard as ag
        >>> g = ag.Guard(name="recs", fallback=lambda x: 0.0)
        >>> @g
        ... def score(x):
        ...     raise ConnectionError("model server down")
        >>> _ = score(1.0)
        >>> assert_served_by(score, "fallback").reason
        'error'
        >>> assert_served_by(score, "model")
        Traceback (most recent call last):
        ...
        AssertionError: guard 'recs': expected the last call to be served by 'model', \
but it was served_by='fallback', reason='error', stage='model', \
error=ConnectionError('model server down')
    """
    guard, outcome = _last(target)
    if expected == "fallback":
        ok = outcome.fallback
    elif expected == "model":
        ok = outcome.served_by == "model" and not outcome.rows_replaced
    else:
        ok = outcome.served_by == expected
    if not ok:
        raise AssertionError(
            f"guard {guard.name!r}: expected the last call to be served by {expected!r}, "
            f"but it was {_describe(outcome)}"
        )
    return outcome


def assert_reason(target: Any, reason: str | None, *, stage: str | None = None) -> Outcome:
    """Assert why the guard did not use the model's answer as is (``None``: it did).

    Args:
        target: a Guard, a function it decorates, or an :func:`aiguard.wrap` object.
        reason: ``None``, ``"error"``, ``"invalid"``, ``"open"``, ``"disabled"``,
            ``"rate_limited"``, ``"bulkhead_full"``, ``"timeout"``, ...
        stage: also assert the pipeline stage that decided, when given.

    Returns:
        the :class:`~aiguard.Outcome`, for further checks.

    Example:
        >>> import aiguard as ag
        >>> g = ag.Guard(name="recs", fallback=lambda: "rules")
        >>> @g
        ... def answer():
        ...     raise RuntimeError("boom")
        >>> _ = answer()
        >>> assert_reason(answer, "error", stage="model").served_by
        'fallback'
    """
    guard, outcome = _last(target)
    if outcome.reason != reason or (stage is not None and outcome.stage != stage):
        wanted = f"reason={reason!r}" + ("" if stage is None else f", stage={stage!r}")
        raise AssertionError(
            f"guard {guard.name!r}: expected the last call to have {wanted}, "
            f"but it was {_describe(outcome)}"
        )
    return outcome


def _breaker_of(target: Any) -> CircuitBreaker:
    if isinstance(target, CircuitBreaker):
        return target
    breaker = guard_of(target).breaker
    if breaker is None:
        raise ConfigurationError(
            "target", "a CircuitBreaker, or a guard configured with breaker=", target
        )
    return breaker


def _state(state: BreakerState | str) -> BreakerState:
    if isinstance(state, BreakerState):
        return state
    if isinstance(state, str):
        key = state.strip().lower().replace("-", "_")
        for member in BreakerState:
            if key in (member.value, member.name.lower()):
                return member
    raise ConfigurationError(
        "state", f"a BreakerState or one of {[m.value for m in BreakerState]}", state
    )


def assert_breaker_state(target: Any, state: BreakerState | str) -> None:
    """Assert the state of a circuit breaker (or of a guard's breaker).

    Args:
        target: a :class:`~aiguard.CircuitBreaker`, or a Guard / guarded
            function / :func:`aiguard.wrap` object that has one.
        state: a :class:`~aiguard.BreakerState` or its value (``"open"``,
            ``"half_open"``, ...; case-insensitive).

    Example:
        >>> import aiguard as ag
        >>> breaker = ag.CircuitBreaker()
        >>> assert_breaker_state(breaker, "closed")
        >>> breaker.force_open()
        >>> assert_breaker_state(breaker, ag.BreakerState.FORCED_OPEN)
    """
    expected = _state(state)
    breaker = _breaker_of(target)
    actual = breaker.state
    if actual is not expected:
        raise AssertionError(
            f"breaker {breaker.name!r}: expected state {expected.value!r}, "
            f"but it is {actual.value!r} ({breaker.metrics!r})"
        )


@contextlib.contextmanager
def assert_no_model_call(target: Any) -> Iterator[None]:
    """Fail if the model behind *target* is called inside the ``with`` block.

    The model still runs if called (so the block behaves as it would), and
    the assertion fails when the block ends, with the number of calls.

    Args:
        target: a guarded function, an :func:`aiguard.wrap` object or a model
            object (see :func:`~aiguard.testing.inject`).

    Example:
        >>> import aiguard as ag
        >>> g = ag.Guard(name="recs", fallback=lambda x: 0.0)
        >>> @g
        ... def score(x):
        ...     return x
        >>> with assert_no_model_call(score):
        ...     score(1.0)
        Traceback (most recent call last):
        ...
        AssertionError: the model behind score was called 1 time(s) inside assert_no_model_call
    """
    spy = Injector(target)
    spy.start()
    try:
        yield
    finally:
        spy.stop()
    if spy.calls:
        names = getattr(target, "__name__", None) or repr(target)
        raise AssertionError(
            f"the model behind {names} was called {spy.calls} time(s) inside assert_no_model_call"
        )
