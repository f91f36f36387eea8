"""Input checks against the training data, and the Guard's input_check and monitors wiring."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np
import pandas as pd
import pytest

import aiguard as ag
from aiguard import checks, drift
from aiguard.detect import ErrorRateMonitor, LatencyMonitor, Signal
from aiguard.errors import ConfigurationError, InvalidInputError
from aiguard.testing import FakeClock

RNG = np.random.default_rng(20)
TRAIN = RNG.normal(size=(2000, 2))
REF = drift.Reference(TRAIN, feature_names=["a", "b"])


def test_within_reference_against_numpy_range() -> None:
    """A row passes iff each value is within [min - t*range, max + t*range] of the training data."""
    x = RNG.normal(scale=2.0, size=(300, 2))
    lo, hi = TRAIN.min(axis=0), TRAIN.max(axis=0)
    span = hi - lo
    expected = ((x >= lo - 0.1 * span) & (x <= hi + 0.1 * span)).all(axis=1)
    assert (checks.within_reference(REF, tolerance=0.1)(x) == expected).all()


def test_within_reference_unseen_category_and_missing() -> None:
    """An unseen category fails; a missing value passes (missing() judges it)."""
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "color": ["red", "blue", "red", "blue"]})
    ref = drift.Reference(frame)
    cur = pd.DataFrame({"x": [1.0, 1.5, np.nan, 9.0], "color": ["red", "green", None, "blue"]})
    assert checks.within_reference(ref)(cur).tolist() == [True, False, True, False]
    assert checks.ood_score(ref, cur)[1] == np.inf


def test_missing_share_per_row() -> None:
    """missing(max_share) counts NaN and None per row, for arrays, objects and frames."""
    x = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, 1.0], [1.0, 2.0, 3.0]])
    assert checks.missing(max_share=0.34)(x).tolist() == [True, False, True]
    objects = np.array([[1, None], ["a", "b"]], dtype=object)
    assert checks.missing()(objects).tolist() == [False, True]
    assert checks.missing()(pd.DataFrame({"a": [1.0, None]})).tolist() == [True, False]
    assert checks.missing()(np.array([[1, 2]])).tolist() == [True]


def test_schema_width_and_dtype() -> None:
    """schema fails every row of a batch of the wrong width or kind."""
    s = checks.schema(n_features=2, dtype="float64")
    assert repr(s) == "schema(n_features=2, dtype='float64')"
    assert s(np.zeros((2, 2), dtype=np.float32)).all()
    assert not s(np.array([["a", "b"]])).any()
    assert not s(pd.DataFrame({"a": [1.0], "b": ["x"]})).any()
    assert checks.schema()(np.zeros(3)).all()


def test_ood_score_is_robust_z() -> None:
    """The OOD score is the largest |x - median| / (IQR / 1.349) over the features."""
    x = np.array([[0.5, -3.0], [np.nan, np.nan]])
    med = np.median(TRAIN, axis=0)
    q75, q25 = np.percentile(TRAIN, [75, 25], axis=0)
    expected = (np.abs(x[0] - med) / ((q75 - q25) / 1.349)).max()
    assert checks.ood_score(REF, x) == pytest.approx([expected, 0.0])
    flat = drift.Reference(np.array([[1.0], [1.0], [1.0], [2.0]]))
    assert checks.ood_score(flat, np.array([[1.0]]))[0] == 0.0
    assert (checks.ood(REF, max_score=4)(x) == [True, True]).all()


def test_input_check_configuration_errors() -> None:
    """Bad input-check arguments are ConfigurationErrors naming the argument."""
    for build, argument in (
        (lambda: checks.within_reference(np.zeros(3)), "reference"),
        (lambda: checks.within_reference(REF, tolerance=-1), "tolerance"),
        (lambda: checks.missing(max_share=2), "max_share"),
        (lambda: checks.schema(n_features=0), "n_features"),
        (lambda: checks.schema(dtype="nonsense"), "dtype"),
        (lambda: checks.ood(REF, max_score=0), "max_score"),
        (lambda: ag.Guard(input_check=3), "input_check"),
        (lambda: ag.Guard(monitors=[object()]), "monitors"),
        (lambda: ag.Guard(monitors=LatencyMonitor()), "monitors"),
        (lambda: ag.Guard(fallback_rows=True, fallback=len), "fallback_rows"),
    ):
        with pytest.raises(ConfigurationError) as info:
            build()
        assert info.value.argument == argument


def model(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=float).sum(axis=1)


def fallback(x: Any) -> np.ndarray:
    return np.full(len(x), -1.0)


def test_guard_rejected_rows_go_to_fallback_model_sees_rest() -> None:
    """With fallback_rows, rejected rows are answered by the fallback, the model gets the rest."""
    seen: list[int] = []

    def spy(x: Any) -> np.ndarray:
        seen.append(len(x))
        return model(x)

    check = checks.within_reference(REF) & checks.missing()
    g = ag.Guard(input_check=check, fallback=fallback, fallback_rows=True)
    x = np.array([[0.0, 0.0], [50.0, 0.0], [np.nan, 0.0], [1.0, 1.0]])
    out = g(spy)(x)
    assert out.tolist() == [0.0, -1.0, -1.0, 2.0]
    assert seen == [2]
    o = g.last_outcome
    assert o is not None
    assert o.rows_rejected == 2
    assert o.rows_replaced == 2
    assert dict(o.rejected) == {"within_reference(tolerance=0.0)": 1, "missing(max_share=0.0)": 1}


def test_guard_input_check_whole_call_and_no_fallback() -> None:
    """Without fallback_rows the fallback serves all; without a fallback the call raises."""
    x = np.array([[0.0, 0.0], [50.0, 0.0]])
    whole = ag.Guard(input_check=checks.within_reference(REF), fallback=fallback)
    assert whole(model)(x).tolist() == [-1.0, -1.0]
    assert whole.last_outcome is not None
    assert whole.last_outcome.reason == "invalid_input"
    strict = ag.Guard(input_check=checks.within_reference(REF))
    with pytest.raises(InvalidInputError, match="inputs"):
        strict(model)(x)
    assert strict.last_outcome is not None
    assert strict.last_outcome.raised
    assert strict(model)(np.zeros((1, 2))).tolist() == [0.0]
    assert strict(lambda: 1)() == 1


def test_guard_input_check_async() -> None:
    """The async shell screens inputs the same way."""
    async def amodel(x: Any) -> np.ndarray:
        return model(x)

    async def afallback(x: Any) -> np.ndarray:
        return fallback(x)

    rows = ag.Guard(input_check=checks.missing(), fallback=afallback, fallback_rows=True)
    whole = ag.Guard(input_check=checks.missing(), fallback=afallback)
    strict = ag.Guard(input_check=checks.missing())
    x = np.array([[1.0, 1.0], [np.nan, 1.0]])

    async def run() -> None:
        assert (await rows(amodel)(x)).tolist() == [2.0, -1.0]
        assert (await whole(amodel)(x)).tolist() == [-1.0, -1.0]
        assert (await rows(amodel)(np.ones((1, 2)))).tolist() == [2.0]
        assert (await rows(lambda: amodel(np.ones((1, 2))))()).tolist() == [2.0]
        with pytest.raises(InvalidInputError):
            await strict(amodel)(x)

    asyncio.run(run())


def test_guard_feeds_monitors_and_forwards_signals() -> None:
    """Every call feeds the monitors; their signals reach the guard's listeners."""
    clock = FakeClock()
    errors = ErrorRateMonitor(window=10, slices=2, baseline=0.0, min_calls=5, clock=clock)
    g = ag.Guard(name="m", monitors=[errors], fallback=lambda x: 0.0)
    events: list[Any] = []
    g.add_listener(events.append)
    g.add_listener(lambda e: 1 / 0 if isinstance(e, Signal) else None)

    @g
    def boom(x: float) -> float:
        raise RuntimeError(x)

    for _ in range(10):
        boom(1.0)
    clock.advance(6)
    errors.evaluate()
    signals = [e for e in events if isinstance(e, Signal)]
    assert signals
    assert signals[0].evidence["worst"] == "error"
    assert g.monitors == (errors,)


def test_monitor_that_raises_never_breaks_the_call(caplog: pytest.LogCaptureFixture) -> None:
    """A failing tap is counted and logged once; the caller gets the result or its own error."""
    class Broken:
        def tap(self, *args: Any) -> None:
            raise ValueError("monitor bug")

    g = ag.Guard(name="broken", monitors=[Broken(), LatencyMonitor()])

    @g
    def f(x: int) -> int:
        if x < 0:
            raise KeyError(x)
        return x

    with caplog.at_level(logging.WARNING, logger="aiguard"):
        assert [f(1), f(2)] == [1, 2]
        with pytest.raises(KeyError):
            f(-1)
    assert g.monitor_errors == 3
    assert sum("a monitor of guard 'broken' raised" in r.message for r in caplog.records) == 1


def test_async_guard_feeds_monitors() -> None:
    """The async shell taps monitors after returned and raised calls."""
    mon = ErrorRateMonitor()
    g = ag.Guard(monitors=[mon])

    @g
    async def f(x: int) -> int:
        if x < 0:
            raise KeyError(x)
        return x

    async def run() -> None:
        assert await f(1) == 1
        with pytest.raises(KeyError):
            await f(-1)

    asyncio.run(run())
    assert mon.rates()["error"] == 0.5
