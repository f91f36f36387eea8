"""Fallback ladders for whole calls: tiers, names, on= filtering, failures, validation."""

from __future__ import annotations

import functools
import inspect
import logging
from typing import Any

import numpy as np
import pytest

from aiguard import checks, fallback
from aiguard.contain._ladder import Ladder
from aiguard.errors import (
    CircuitOpenError,
    ConfigurationError,
    FallbackFailedError,
    InvalidInputError,
)

pytestmark = pytest.mark.filterwarnings("error")


class ModelDownError(Exception):
    pass


def down(*args: Any, **kwargs: Any) -> Any:
    raise ModelDownError("model server down")


def previous_model(x: float) -> float:
    return x + 0.5


def rules(x: float) -> float:
    return 0.25


# -- serving ---------------------------------------------------------------------


def test_handler_gets_the_model_arguments() -> None:
    """The handler is called with exactly the model's positional and keyword arguments."""
    seen: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def handler(*args: Any, **kwargs: Any) -> str:
        seen.append((args, kwargs))
        return "served"

    @fallback(handler)
    def predict(x: int, y: int, *, scale: float = 1.0) -> str:
        raise ModelDownError

    assert predict(1, 2, scale=3.0) == "served"
    assert seen == [((1, 2), {"scale": 3.0})]


def test_healthy_model_is_returned_untouched() -> None:
    """Without failure the model's own object comes back and no tier runs."""
    result = np.arange(3.0)
    calls: list[int] = []

    @fallback(lambda x: calls.append(1), check=checks.finite())
    def predict(x: int) -> np.ndarray:
        return result

    assert predict(1) is result
    assert calls == []


def test_ladder_moves_to_the_next_tier_when_one_raises() -> None:
    """Tier 0 raising hands the call to tier 1."""

    @fallback(down, previous_model, rules)
    def predict(x: float) -> float:
        raise ModelDownError

    assert predict(1.0) == 1.5


def test_tier_output_failing_the_check_moves_on() -> None:
    """A tier whose output fails the check is skipped like one that raised."""
    ladder = Ladder([lambda x: float("nan"), lambda x: 7.0, rules], check=checks.finite())
    assert ladder.serve((1.0,), {}) == (7.0, "fallback[1]")


def test_model_output_failing_the_check_is_replaced() -> None:
    """A whole-call check failure serves the first tier whose output passes."""

    @fallback(lambda x: -1.0, rules, check=checks.in_range(0, 1))
    def predict(x: float) -> float:
        return 3.0

    assert predict(0.0) == 0.25


def test_check_may_be_a_plain_callable() -> None:
    """A plain callable check is wrapped as custom()."""

    @fallback(rules, check=lambda r: r < 1)
    def predict(x: float) -> float:
        return x

    assert predict(0.5) == 0.5
    assert predict(2.0) == 0.25


def test_a_check_that_raises_makes_the_model_output_invalid(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A check that cannot judge the model's output falls back and logs once."""

    @fallback(rules, check=checks.in_range(0, 1))
    def predict(x: float) -> object:
        return "not a number"

    with caplog.at_level(logging.WARNING, logger="aiguard"):
        assert predict(0.0) == 0.25
        assert predict(0.0) == 0.25
    assert sum("could not judge" in r.getMessage() for r in caplog.records) == 1


# -- every tier failing ------------------------------------------------------------


def test_all_tiers_failing_raises_with_errors_and_cause() -> None:
    """FallbackFailedError carries one entry per tier and chains the model's error."""
    boom = ValueError("rules broken")

    def broken_rules(x: float) -> float:
        raise boom

    @fallback(broken_rules, lambda x: float("inf"), check=checks.finite())
    def predict(x: float) -> float:
        raise ModelDownError("model server down")

    with pytest.raises(FallbackFailedError) as info:
        predict(1.0)
    err = info.value
    assert len(err.errors) == 2
    assert err.errors[0] is boom
    assert isinstance(err.errors[1], InvalidInputError)
    assert "finite()" in str(err.errors[1])
    assert isinstance(err.__cause__, ModelDownError)
    assert "broken_rules: ValueError: rules broken" in str(err)
    assert "fallback[1]: InvalidInputError" in str(err)
    assert err.guard is None
    assert isinstance(err, RuntimeError)


def test_cause_is_the_failing_model_output_when_the_model_did_not_raise() -> None:
    """With a failed check, __cause__ describes the model's rejected output."""

    @fallback(down, check=checks.finite())
    def predict(x: float) -> np.ndarray:
        return np.array([1.0, float("nan")])

    with pytest.raises(FallbackFailedError) as info:
        predict(0.0)
    cause = info.value.__cause__
    assert isinstance(cause, InvalidInputError)
    assert "1 of 2 rows failing" in str(cause)
    assert isinstance(info.value.errors[0], ModelDownError)


def test_ladder_serve_defaults_the_cause_to_the_handled_exception() -> None:
    """Called inside an except block, serve() chains that exception."""
    ladder = Ladder([down], check=None, guard="recs")
    original = KeyError("model")
    try:
        raise original
    except KeyError:
        with pytest.raises(FallbackFailedError) as info:
            ladder.serve((), {})
    assert info.value.__cause__ is original
    assert info.value.guard == "recs"
    with pytest.raises(FallbackFailedError) as outside:
        ladder.serve((), {})
    assert outside.value.__cause__ is None


# -- on= ---------------------------------------------------------------------------


def test_non_matching_exceptions_propagate_unchanged() -> None:
    """An exception outside on= is re-raised as the very same object."""
    original = ValueError("bad input")

    @fallback(rules, on=(ModelDownError,))
    def predict(x: float) -> float:
        raise original

    with pytest.raises(ValueError, match="bad input") as info:
        predict(1.0)
    assert info.value is original
    assert info.traceback[-1].name == "predict"


def test_on_accepts_a_single_type_and_predicates() -> None:
    """on= takes a type, predicates, or a list mixing both."""

    @fallback(rules, on=ModelDownError)
    def by_type(x: float) -> float:
        raise ModelDownError

    @fallback(lambda x, message: 0.25, on=[KeyError, lambda e: "timeout" in str(e)])
    def by_predicate(x: float, message: str) -> float:
        raise RuntimeError(message)

    assert by_type(0.0) == 0.25
    assert by_predicate(0.0, "upstream timeout") == 0.25

    @fallback(lambda x: 0.25, on=[KeyError, lambda e: False])
    def by_type_with_predicates(x: float) -> float:
        raise KeyError(x)

    assert by_type_with_predicates(0.0) == 0.25
    with pytest.raises(RuntimeError, match="refused"):
        by_predicate(0.0, "refused")


def test_a_raising_predicate_counts_as_not_matching(caplog: pytest.LogCaptureFixture) -> None:
    """A broken predicate lets the model's error propagate and is logged once."""

    def broken(exc: BaseException) -> bool:
        raise TypeError

    @fallback(rules, on=[broken])
    def predict(x: float) -> float:
        raise ModelDownError

    with caplog.at_level(logging.WARNING, logger="aiguard"):
        for _ in range(2):
            with pytest.raises(ModelDownError):
                predict(0.0)
    assert sum("predicate" in r.getMessage() for r in caplog.records) == 1


def test_rejections_from_inner_decorators_are_served() -> None:
    """CircuitOpenError (a CallRejectedError) is an Exception: served by default."""

    @fallback(rules)
    def predict(x: float) -> float:
        raise CircuitOpenError("open", guard="recs", retry_at=3.0)

    assert predict(0.0) == 0.25


def test_empty_on_serves_only_failed_checks() -> None:
    """on=() serves no exception but still serves a failed check."""

    @fallback(rules, on=(), check=checks.finite())
    def predict(x: float) -> float:
        if x < 0:
            raise ModelDownError
        return float("nan")

    assert predict(1.0) == 0.25
    with pytest.raises(ModelDownError):
        predict(-1.0)


def test_base_exceptions_are_never_served() -> None:
    """KeyboardInterrupt propagates even with on=BaseException."""

    @fallback(rules, on=BaseException)
    def predict(x: float) -> float:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        predict(0.0)


@pytest.mark.parametrize("on", [3, "ValueError", (ValueError, 3), int])
def test_on_validates(on: Any) -> None:
    """on= holds only exception types and predicates."""
    with pytest.raises(ConfigurationError) as info:
        fallback(rules, on=on)
    assert info.value.argument == "on"


# -- names and construction ---------------------------------------------------------


def test_tier_names() -> None:
    """Functions keep their name; lambdas, partials, objects and duplicates get fallback[i]."""

    class Constant:
        def __call__(self, x: float) -> float:
            return 0.0

    def model(x: float) -> float:
        return x

    ladder = Ladder(
        [previous_model, lambda x: x, functools.partial(rules), Constant(), rules, rules, model],
        check=None,
    )
    assert ladder.names == (
        "previous_model", "fallback[1]", "fallback[2]", "fallback[3]",
        "fallback[4]", "fallback[5]", "fallback[6]",
    )  # fmt: skip
    assert Ladder([lambda x: x], check=None).names == ("fallback",)
    assert Ladder([rules], check=None).names == ("rules",)
    assert Ladder([str.upper], check=None).names == ("upper",)


def test_ladder_validates_handlers() -> None:
    """At least one handler, each callable."""
    with pytest.raises(ConfigurationError):
        Ladder([], check=None)
    with pytest.raises(ConfigurationError):
        Ladder([rules, 3], check=None)  # type: ignore[list-item]
    with pytest.raises(ConfigurationError):
        Ladder([rules], check=3)  # type: ignore[arg-type]


def test_fallback_validates_rows() -> None:
    """rows must be a bool and needs a check."""
    with pytest.raises(ConfigurationError) as info:
        fallback(rules, rows=True)
    assert info.value.argument == "check"
    with pytest.raises(ConfigurationError) as info:
        fallback(rules, rows=1, check=checks.finite())  # type: ignore[arg-type]
    assert info.value.argument == "rows"


def test_decorator_keeps_name_doc_and_signature() -> None:
    """functools.wraps semantics: name, docstring, signature, __wrapped__."""

    def predict(x: np.ndarray, *, threshold: float = 0.5) -> np.ndarray:
        """Predict things."""
        return x

    wrapped = fallback(rules)(predict)
    assert wrapped.__name__ == "predict"
    assert wrapped.__doc__ == "Predict things."
    assert inspect.signature(wrapped) == inspect.signature(predict)
    assert wrapped.__wrapped__ is predict  # type: ignore[attr-defined]


def test_one_decorator_serves_many_functions() -> None:
    """The decorator object can be applied to several functions independently."""
    serve_rules = fallback(rules)
    first = serve_rules(down)
    second = serve_rules(lambda x: x * 2)
    assert first(1.0) == 0.25
    assert second(1.0) == 2.0
