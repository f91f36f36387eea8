"""Fault injection: each fault does what it says, is reproducible, and is undone."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from tests.strategies import seeds

import aiguard as ag
from aiguard.testing import FakeClock, Faults, Injector, inject


class ModelDownError(Exception):
    """A model-side failure."""


class NeedsKeywordError(Exception):
    """An exception type that cannot be built from a message alone."""

    def __init__(self, *, code: int) -> None:
        super().__init__(code)


def zeros(x: Any) -> Any:
    """A rule-based fallback: zero per row."""
    return np.zeros(len(x)) if isinstance(x, np.ndarray) else 0.0


def guarded(**config: Any) -> tuple[ag.Guard, Any]:
    """A guard and a sync model returning x + 1 through it."""
    g = ag.Guard(name="m", **config)

    @g
    def model(x: Any) -> Any:
        return np.asarray(x, dtype=float) + 1.0

    return g, model


def aguarded(**config: Any) -> tuple[ag.Guard, Any]:
    """A guard and an async model returning x + 1 through it."""
    g = ag.Guard(name="am", **config)

    @g
    async def model(x: Any) -> Any:
        await asyncio.sleep(0)
        return np.asarray(x, dtype=float) + 1.0

    return g, model


# -- raise_ -----------------------------------------------------------------------------
def test_raise_type_is_served_by_fallback_and_undone() -> None:
    """An injected exception type reaches the guard as a model error; exiting restores the model."""
    g, model = guarded(fallback=zeros)
    with inject(model).raise_(ModelDownError) as inj:
        assert model(1.0) == 0.0
        out = g.last_outcome
        assert out is not None
        assert (out.served_by, out.reason, out.stage) == ("zeros", "error", "model")
        assert isinstance(out.error, ModelDownError)
        assert "injected ModelDownError" in str(out.error)
    assert model(1.0) == 2.0
    assert (inj.calls, inj.injected, inj.active) == (1, 1, False)


def test_raise_instance_propagates_without_fallback() -> None:
    """Without a fallback the injected instance itself reaches the caller."""
    _, model = guarded()
    err = ModelDownError("boom")
    with inject(model).raise_(err), pytest.raises(ModelDownError) as info:
        model(1.0)
    assert info.value is err


def test_raise_rejects_what_is_not_an_exception() -> None:
    """raise_ validates its exception at once."""
    _, model = guarded()
    with pytest.raises(ag.ConfigurationError, match="exc must be an exception type or instance"):
        inject(model).raise_(42)  # type: ignore[arg-type]
    with pytest.raises(ag.ConfigurationError, match="constructible from a message"):
        inject(model).raise_(NeedsKeywordError)
    inject(model).raise_(NeedsKeywordError(code=3))  # an instance is fine


def test_raise_type_without_message_argument_is_built_bare() -> None:
    """An exception type whose constructor takes no argument is built without a message."""

    class BareError(Exception):
        def __init__(self) -> None:
            super().__init__("bare")

    _, model = guarded()
    with inject(model).raise_(BareError), pytest.raises(BareError, match="bare"):
        model(1.0)


def test_rate_draws_are_reproducible_and_binomial() -> None:
    """Same seed, same affected calls; the count is a plausible Binomial(n, rate) draw."""
    _, model = guarded(fallback=zeros)

    def pattern(seed: int) -> list[bool]:
        with inject(model, seed=seed).raise_(ModelDownError, rate=0.3):
            return [model(1.0) == 0.0 for _ in range(400)]

    first, again, other = pattern(7), pattern(7), pattern(8)
    assert first == again
    assert first != other
    lo, hi = stats.binom(400, 0.3).ppf([1e-6, 1 - 1e-6])
    assert lo <= sum(first) <= hi


def test_each_fault_keeps_its_own_sequence() -> None:
    """Adding a second fault does not change which calls the first one hits."""
    _, model = guarded()

    def hits(with_latency: bool) -> list[bool]:
        inj = inject(model, seed=3, clock=FakeClock()).nan(rate=0.5)
        if with_latency:
            inj.latency(1.0, rate=0.5)
        with inj:
            return [bool(np.isnan(model(1.0))) for _ in range(50)]

    assert hits(with_latency=False) == hits(with_latency=True)


def test_rate_zero_never_and_rate_one_always() -> None:
    """rate=0 leaves every call alone; rate=1 hits every call."""
    _, model = guarded(fallback=zeros)
    with inject(model).raise_(ModelDownError, rate=0.0).nan(rate=1.0) as inj:
        results = [model(1.0) for _ in range(20)]
    assert all(np.isnan(r) for r in results)
    raise_fault, nan_fault = inj.faults
    assert (raise_fault.calls, raise_fault.injected) == (20, 0)
    assert (nan_fault.calls, nan_fault.injected) == (20, 20)
    assert "Fault('nan', rate=1.0, calls=20, injected=20)" in repr(inj)


# -- latency ----------------------------------------------------------------------------
def test_latency_advances_the_guards_fake_clock() -> None:
    """On a FakeClock guard, latency moves the clock and the outcome measures it."""
    clock = FakeClock()
    g, model = guarded(clock=clock)
    with inject(model).latency(2.5):
        assert model(1.0) == 2.0
    out = g.last_outcome
    assert out is not None
    assert out.latency == pytest.approx(2.5)
    assert clock() == pytest.approx(2.5)


def test_latency_uses_the_given_clock_over_the_guards() -> None:
    """An explicit clock= is the one advanced."""
    mine = FakeClock()
    _, model = guarded(clock=FakeClock())
    with inject(model, clock=mine).latency(1.0, rate=1.0):
        model(1.0)
        model(1.0)
    assert mine() == 2.0


def test_latency_really_sleeps_on_a_real_clock() -> None:
    """Without a fake clock, the call really takes at least the injected time."""
    _, model = guarded()
    with inject(model).latency(0.02):
        t0 = time.perf_counter()
        model(1.0)
        assert time.perf_counter() - t0 >= 0.02


async def test_latency_async_fake_and_real() -> None:
    """Async models: a fake clock is advanced, a real one awaited."""
    clock = FakeClock()
    g, model = aguarded(clock=clock)
    with inject(model).latency(4.0):
        assert await model(1.0) == 2.0
    assert g.last_outcome is not None
    assert g.last_outcome.latency == pytest.approx(4.0)
    _, real = aguarded()
    with inject(real).latency(0.02):
        t0 = time.perf_counter()
        await real(1.0)
        assert time.perf_counter() - t0 >= 0.02


def test_latency_validates_seconds() -> None:
    """Negative, infinite or non-numeric seconds are refused."""
    _, model = guarded()
    for bad in (-1.0, float("inf"), "1", True):
        with pytest.raises(ag.ConfigurationError, match="seconds must be a finite number >= 0"):
            inject(model).latency(bad)  # type: ignore[arg-type]


# -- nan --------------------------------------------------------------------------------
def test_nan_all_rows_returns_a_copy() -> None:
    """Every row becomes NaN in a copy; the model's own array is untouched."""
    g = ag.Guard(name="m")
    kept = np.ones((4, 2))

    @g
    def model(x: Any) -> Any:
        return kept

    with inject(model).nan():
        out = model(None)
    assert np.isnan(out).all()
    assert out.shape == (4, 2)
    assert (kept == 1.0).all()


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), share=st.floats(0.01, 1.0), seed=st.integers(0, 2**16))
def test_nan_rows_share_hits_that_many_distinct_rows(n: int, share: float, seed: int) -> None:
    """rows=share sets round(share * n) rows (at least one) to NaN, whole rows only."""
    g = ag.Guard(name="m")

    @g
    def model(x: Any) -> Any:
        return np.arange(n * 3, dtype=np.float32).reshape(n, 3)

    with inject(model, seed=seed).nan(rows=share):
        out = model(None)
    bad = np.isnan(out)
    assert out.dtype == np.float32
    assert (bad.all(axis=1) | ~bad.any(axis=1)).all()
    assert int(bad.all(axis=1).sum()) == min(n, max(1, round(share * n)))


def test_nan_scalars_and_integer_outputs() -> None:
    """A scalar result becomes NaN; an int array becomes a float array with NaN."""
    g = ag.Guard(name="m")

    @g
    def scalar(x: Any) -> Any:
        return 3

    @g
    def ints(x: Any) -> Any:
        return np.arange(4)

    @g
    def zero_d(x: Any) -> Any:
        return np.array(1.0)

    with inject(scalar).nan(), inject(ints).nan(rows=0.5), inject(zero_d).nan():
        assert np.isnan(scalar(None))
        out = ints(None)
        z = zero_d(None)
    assert out.dtype == np.float64
    assert int(np.isnan(out).sum()) == 2
    assert isinstance(z, np.ndarray)
    assert np.isnan(z)


def test_nan_validates_rows() -> None:
    """rows must be a share in (0, 1] or None."""
    _, model = guarded()
    for bad in (0, 1.5, -0.1, "half", True):
        with pytest.raises(ag.ConfigurationError, match="rows must be"):
            inject(model).nan(rows=bad)  # type: ignore[arg-type]


# -- constant ---------------------------------------------------------------------------
def test_constant_value_and_first_row() -> None:
    """constant(v) makes every row v; constant() repeats the first row."""
    g = ag.Guard(name="m")

    @g
    def model(x: Any) -> Any:
        return np.array([[0.1, 0.9], [0.7, 0.3], [0.4, 0.6]])

    with inject(model).constant([0.5, 0.5]):
        assert model(None).tolist() == [[0.5, 0.5]] * 3
    with inject(model).constant():
        assert model(None).tolist() == [[0.1, 0.9]] * 3
    with inject(model).constant(1):
        out = model(None)
    assert out.dtype == np.float64
    assert (out == 1.0).all()


def test_constant_on_scalars_and_lists() -> None:
    """A scalar output becomes the value (or stays); a list becomes an array of the value."""
    g = ag.Guard(name="m")

    @g
    def scalar(x: Any) -> Any:
        return 0.3

    @g
    def listed(x: Any) -> Any:
        return [1, 2, 3]

    with inject(scalar).constant(0.5), inject(listed).constant(7):
        assert scalar(None) == 0.5
        assert listed(None).tolist() == [7, 7, 7]
    with inject(scalar).constant():
        assert scalar(None) == 0.3


# -- drift ------------------------------------------------------------------------------
def test_drift_moves_chosen_columns_of_a_copy() -> None:
    """drift adds shift to the chosen columns; the caller's array is untouched."""
    seen: list[Any] = []
    g = ag.Guard(name="m")

    @g
    def model(x: Any, scale: float = 1.0) -> Any:
        seen.append((x, scale))
        return x

    x = np.zeros((3, 4))
    with inject(model).drift(2.0, features=[1, 3]):
        model(x, scale=5.0)
    moved, scale = seen[-1]
    assert scale == 5.0
    assert moved[:, [1, 3]].tolist() == [[2.0, 2.0]] * 3
    assert moved[:, [0, 2]].tolist() == [[0.0, 0.0]] * 3
    assert (x == 0).all()


def test_drift_all_features_vector_shift_and_1d() -> None:
    """features=None moves every column; a per-feature shift vector broadcasts; 1-D works."""
    seen: list[Any] = []
    g = ag.Guard(name="m")

    @g
    def model(x: Any) -> Any:
        seen.append(x)
        return 0

    with inject(model).drift([1.0, -1.0]):
        model(np.zeros((2, 2)))
    assert seen[-1].tolist() == [[1.0, -1.0], [1.0, -1.0]]
    with inject(model).drift(5.0, features=0):
        model(np.array([1, 2, 3]))
    assert seen[-1].tolist() == [6.0, 2.0, 3.0]
    with inject(model).drift(0.5):
        model(1.0)
    assert seen[-1] == 1.5


def test_drift_on_dataframe_columns() -> None:
    """A DataFrame's named columns are moved in a copy."""
    seen: list[Any] = []
    g = ag.Guard(name="m")

    @g
    def model(x: Any) -> Any:
        seen.append(x)
        return 0

    frame = pd.DataFrame({"age": [30.0, 40.0], "income": [1.0, 2.0]})
    with inject(model).drift(10.0, features="age"):
        model(frame)
    assert seen[-1]["age"].tolist() == [40.0, 50.0]
    assert seen[-1]["income"].tolist() == [1.0, 2.0]
    assert frame["age"].tolist() == [30.0, 40.0]
    with inject(model).drift(1.0):
        model(frame)
    assert seen[-1].to_numpy().tolist() == [[31.0, 2.0], [41.0, 3.0]]


def test_drift_without_arguments_fails_in_the_call() -> None:
    """A model called without a first positional argument cannot be drifted: the call fails."""
    g = ag.Guard(name="m")

    @g
    def model(*, x: float = 0.0) -> float:
        return x

    with inject(model).drift(1.0), pytest.raises(ag.ConfigurationError, match="drift"):
        model(x=1.0)


def test_drift_validates_shift_and_features() -> None:
    """shift must be finite numbers; features a non-empty list of indices or names."""
    _, model = guarded()
    for bad_shift in ("x", float("nan"), True, [1.0, None]):
        with pytest.raises(ag.ConfigurationError, match="shift must be"):
            inject(model).drift(bad_shift)
    for bad_features in ([], [1.5], [True]):
        with pytest.raises(ag.ConfigurationError, match="features must be"):
            inject(model).drift(1.0, features=bad_features)


# -- async ------------------------------------------------------------------------------
async def test_async_model_gets_every_fault() -> None:
    """Async guarded models: raise, nan, constant and drift all apply."""
    g, model = aguarded(fallback=zeros)
    with inject(model).raise_(ModelDownError):
        assert (await model(np.ones(2))).tolist() == [0.0, 0.0]
    assert g.last_outcome is not None
    assert g.last_outcome.reason == "error"
    with inject(model).nan(rows=0.5):
        assert int(np.isnan(await model(np.ones(4))).sum()) == 2
    with inject(model).constant(9.0):
        assert (await model(np.ones(3))).tolist() == [9.0] * 3
    with inject(model).drift(1.0):
        assert (await model(np.ones(2))).tolist() == [3.0, 3.0]
    assert (await model(np.ones(2))).tolist() == [2.0, 2.0]


# -- targets ----------------------------------------------------------------------------
class Classifier:
    """A scikit-learn style model."""

    classes_ = (0, 1)

    def predict(self, X: Any) -> Any:
        return np.ones(len(X))

    def predict_proba(self, X: Any) -> Any:
        return np.full((len(X), 2), 0.5)


def test_model_object_methods_are_patched_and_restored() -> None:
    """predict and predict_proba are patched on the instance, then removed again."""
    clf = Classifier()
    X = np.zeros((3, 2))
    with inject(clf).nan() as inj:
        assert np.isnan(clf.predict(X)).all()
        assert np.isnan(clf.predict_proba(X)).all()
        assert "predict" in vars(clf)
    assert "predict" not in vars(clf)
    assert "predict_proba" not in vars(clf)
    assert clf.predict(X).tolist() == [1.0, 1.0, 1.0]
    assert inj.calls == 2
    assert "Injector(predict, predict_proba" in repr(inj)


def test_instance_attribute_model_is_restored_to_itself() -> None:
    """A predict set on the instance is put back exactly."""
    clf = Classifier()

    def own_predict(X: Any) -> Any:
        return np.full(len(X), 7.0)

    clf.predict = own_predict  # type: ignore[method-assign]
    with inject(clf).constant(0.0):
        assert clf.predict(np.zeros((2, 1))).tolist() == [0.0, 0.0]
    assert clf.predict is own_predict


async def test_async_model_object() -> None:
    """An object with an async predict gets an async faulty predict."""

    class AsyncModel:
        async def predict(self, X: Any) -> Any:
            return np.ones(len(X))

    m = AsyncModel()
    with inject(m).raise_(ModelDownError), pytest.raises(ModelDownError):
        await m.predict(np.zeros(2))
    assert (await m.predict(np.zeros(2))).tolist() == [1.0, 1.0]


def test_wrapped_model_goes_through_the_guard() -> None:
    """On an aiguard.wrap object the faults hit the model inside the guard."""
    g = ag.Guard(name="clf", fallback=lambda X: np.zeros(len(X)))
    safe = ag.wrap(Classifier(), g)
    with inject(safe).raise_(ModelDownError):
        assert safe.predict(np.zeros((2, 2))).tolist() == [0.0, 0.0]
    assert g.last_outcome is not None
    assert g.last_outcome.reason == "error"
    assert safe.predict(np.zeros((2, 2))).tolist() == [1.0, 1.0]


def test_unreachable_targets_are_refused() -> None:
    """A plain function or an object without predict methods is a configuration error."""

    def plain(x: Any) -> Any:
        return x

    with pytest.raises(ag.ConfigurationError, match="target must be a guarded function"):
        inject(plain)
    with pytest.raises(ag.ConfigurationError, match="target must be"):
        inject(object())
    with pytest.raises(ag.ConfigurationError, match="a model instance, not a class"):
        inject(Classifier)

    class Slotted:
        __slots__ = ()

        def predict(self, X: Any) -> Any:
            return X

    with pytest.raises(ag.ConfigurationError, match="can be set on the instance"):
        inject(Slotted()).start()


def test_injector_validates_seed_clock_and_rate() -> None:
    """seed must be an int >= 0, clock callable, rate in [0, 1]."""
    _, model = guarded()
    for bad_seed in (-1, 1.5, True):
        with pytest.raises(ag.ConfigurationError, match="seed must be an int >= 0"):
            inject(model, seed=bad_seed)  # type: ignore[arg-type]
    with pytest.raises(ag.ConfigurationError, match="clock must be"):
        inject(model, clock=3.0)  # type: ignore[arg-type]
    for bad_rate in (-0.1, 1.1, "1", True, float("nan")):
        with pytest.raises(ag.ConfigurationError, match=r"rate must be a number in \[0, 1\]"):
            inject(model).nan(rate=bad_rate)  # type: ignore[arg-type]


# -- lifecycle --------------------------------------------------------------------------
def test_chaining_returns_the_injector_and_faults_added_live_apply() -> None:
    """Fault methods return the same injector; a fault added while active applies at once."""
    _, model = guarded()
    inj = inject(model)
    assert inj.nan(rate=0.0) is inj
    with inj:
        assert model(1.0) == 2.0
        inj.constant(5.0)
        assert model(1.0) == 5.0
    assert [f.kind for f in inj.faults] == ["nan", "constant"]


def test_start_stop_are_idempotent_and_nested_injectors_unwind() -> None:
    """Starting twice installs once; nested injectors stack and restore in order."""
    _, model = guarded()
    outer = inject(model).constant(5.0)
    outer.start()
    outer.start()
    inner = inject(model).drift(1.0)
    with inner:
        assert model(1.0) == 5.0
        assert inner.calls == outer.calls == 1
    assert model(1.0) == 5.0
    outer.stop()
    outer.stop()
    assert model(1.0) == 2.0
    assert not hasattr(model, "__aiguard_model__")


def test_counts_are_exact_under_threads() -> None:
    """Eight threads calling through one injector: every call is counted once."""
    _, model = guarded(fallback=zeros)
    with inject(model, seed=1).raise_(ModelDownError, rate=0.5) as inj:

        def work() -> None:
            for _ in range(500):
                model(1.0)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert inj.calls == 4000
    assert inj.injected == inj.faults[0].injected
    lo, hi = stats.binom(4000, 0.5).ppf([1e-6, 1 - 1e-6])
    assert lo <= inj.injected <= hi


# -- the fixture's factory --------------------------------------------------------------
def test_faults_factory_reuses_one_injector_per_target_and_undoes_all() -> None:
    """on=target helpers add to one started injector per target; undo restores all."""
    _, a = guarded(fallback=zeros)
    _, b = guarded()
    faults = Faults(seed=5)
    first = faults.constant(3.0, on=a)
    assert faults.nan(on=a, rows=None, rate=0.0) is first
    assert faults.latency(0.0, on=a) is first
    assert faults.drift(1.0, on=a, features=None) is first
    assert faults.raise_(ModelDownError, on=b) is not first
    extra = faults(a, seed=9, clock=FakeClock())
    assert isinstance(extra, Injector)
    assert extra.active
    assert a(1.0) == 3.0
    with pytest.raises(ModelDownError):
        b(1.0)
    assert len(faults.injectors) == 3
    faults.undo()
    assert a(1.0) == 2.0
    assert b(1.0) == 2.0
    assert faults.injectors == ()


def test_drift_rate_moves_only_some_calls() -> None:
    """With rate=0.5 some calls see moved inputs and the others the original ones."""
    seen: list[float] = []
    g = ag.Guard(name="m")

    @g
    def model(x: Any) -> Any:
        seen.append(float(x))
        return x

    with inject(model, seed=11).drift(1.0, rate=0.5) as inj:
        for _ in range(40):
            model(0.0)
    assert sorted(set(seen)) == [0.0, 1.0]
    assert seen.count(1.0) == inj.faults[0].injected == inj.injected


@settings(max_examples=25, deadline=None)
@given(seed=seeds, rate=st.floats(0.0, 1.0), n=st.integers(1, 60))
def test_same_seed_same_affected_calls(seed: int, rate: float, n: int) -> None:
    """For any seed and rate, two runs hit exactly the same calls, and the counts agree."""
    g = ag.Guard(name="m", fallback=zeros)

    @g
    def model(x: Any) -> Any:
        return 1.0

    def run() -> tuple[list[bool], int]:
        with inject(model, seed=seed).raise_(ModelDownError, rate=rate) as inj:
            hits = [model(0.0) == 0.0 for _ in range(n)]
        return hits, inj.injected

    (first, count), (again, _) = run(), run()
    assert first == again
    assert count == sum(first)
    if rate == 0.0:
        assert count == 0
    if rate == 1.0:
        assert count == n
