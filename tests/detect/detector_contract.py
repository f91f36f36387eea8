"""The contract every streaming detector passes: subclass :class:`DetectorContract` per detector.

A subclass sets ``cls`` (the detector class), ``params`` (a list of keyword
sets to build it with; each test runs on each), and ``river`` (a function
building river's detector from the same keywords, or None where river's
random stream makes equality meaningless: KSWIN; or there is no river peer:
CUSUM). Binary detectors (``cls._binary``) get 0/1 streams.

Usage (``from tests.detect.detector_contract import DetectorContract,
pytest_generate_tests``; the hook runs each test once per parameter set)::

    class TestPageHinkley(DetectorContract):
        cls = PageHinkley
        params = [{}, {"mode": "up", "threshold": 10.0}]
        river = staticmethod(lambda **kw: river.drift.PageHinkley(**kw))
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.detect import streams

from aiguard.errors import ConfigurationError, InvalidInputError
from aiguard.typing import Detector

if TYPE_CHECKING:
    from collections.abc import Callable

HYPOTHESIS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.differing_executors],
)


def _middle(make: Callable[[], np.ndarray], length: int) -> np.ndarray:
    """The middle *length* values of ``make()`` (where the named streams change)."""
    stream = make()
    start = max(0, (len(stream) - length) // 2)
    return stream[start : start + length]


def per_value(detector: Any, stream: np.ndarray) -> tuple[list[int], list[tuple[bool, bool]]]:
    """Detections and (drift, warning) flags after each value, fed one by one."""
    found, flags = [], []
    for i, value in enumerate(stream):
        detector.update(value)
        flags.append((detector.drift_detected, getattr(detector, "warning_detected", False)))
        if detector.drift_detected:
            found.append(i)
    return found, flags


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each contract test once per parameter set of the class (import this into the module)."""
    if "kwargs" in metafunc.fixturenames and metafunc.cls is not None:
        sets = [dict(p) for p in metafunc.cls.params]
        metafunc.parametrize("kwargs", sets, ids=[f"params{i}" for i in range(len(sets))])


class DetectorContract:
    """Behaviour shared by every :class:`aiguard.typing.Detector` in aiguard.detect."""

    cls: ClassVar[type]
    params: ClassVar[list[dict[str, Any]]] = [{}]
    river: ClassVar[Callable[..., Any] | None] = None
    hypothesis_length: ClassVar[int] = 400  # up to 4 segments: 1,600 values fed one by one
    #: values of each named stream used, around its middle (a slow detector uses fewer)
    named_length: ClassVar[int] = 4000
    #: calibration: reference values and the target (one alarm per this many values)
    calibration: ClassVar[tuple[int, int]] = (2000, 200)

    @property
    def binary(self) -> bool:
        return bool(self.cls._binary)

    def named(self) -> dict[str, Callable[[], np.ndarray]]:
        chosen = streams.BINARY if self.binary else streams.REAL
        return {
            name: functools.partial(_middle, make, self.named_length)
            for name, make in chosen.items()
        }

    def strategy(self) -> st.SearchStrategy[np.ndarray]:
        if self.binary:
            return streams.binary_streams(max_length=self.hypothesis_length)
        return streams.real_streams(max_length=self.hypothesis_length)

    # -- shape -------------------------------------------------------------------

    def test_is_a_detector(self, kwargs: dict[str, Any]) -> None:
        """The detector satisfies the Detector protocol and starts without a drift."""
        detector = self.cls(**kwargs)
        assert isinstance(detector, Detector)
        assert detector.drift_detected is False

    def test_repr_names_the_parameters(self, kwargs: dict[str, Any]) -> None:
        """The repr rebuilds the detector's parameters."""
        detector = self.cls(**kwargs)
        assert repr(detector).startswith(self.cls.__name__ + "(")
        for name, value in kwargs.items():
            assert f"{name}={value!r}" in repr(detector)

    def test_parameters_are_read_only(self, kwargs: dict[str, Any]) -> None:
        """Assigning a parameter raises AttributeError and leaves it unchanged."""
        detector = self.cls(**kwargs)
        name = self.cls._param_names[0]
        before = getattr(detector, name)
        with pytest.raises(AttributeError, match="read-only"):
            setattr(detector, name, before)
        assert getattr(detector, name) == before

    # -- river equality ----------------------------------------------------------

    # no_cover: long per-value runs checked against river or update(); the code they run is
    # measured by the short tests of this contract (tracing them costs the CI gate minutes)
    @pytest.mark.no_cover
    @pytest.mark.parametrize("name", ["0", "1", "2", "3"])
    def test_same_flags_as_river_on_named_streams(self, kwargs: dict[str, Any], name: str) -> None:
        """update() gives river's drift (and warning) flags after each value of named streams."""
        if self.river is None:
            pytest.skip("no river peer with the same stream")
        stream = list(self.named().values())[int(name)]()
        ours = per_value(self.cls(**kwargs), stream)
        theirs = per_value(self.river(**kwargs), stream)
        assert ours == theirs

    @HYPOTHESIS
    @given(data=st.data())
    @pytest.mark.no_cover
    def test_same_detections_as_river_on_generated_streams(
        self, kwargs: dict[str, Any], data: st.DataObject
    ) -> None:
        """update_many finds river's detections on hypothesis-generated streams."""
        if self.river is None:
            pytest.skip("no river peer with the same stream")
        stream = data.draw(self.strategy())
        theirs, _ = per_value(self.river(**kwargs), stream)
        assert self.cls(**kwargs).update_many(stream).tolist() == theirs

    # -- update_many is update ----------------------------------------------------

    @pytest.mark.no_cover
    @pytest.mark.parametrize("name", ["0", "1", "2", "3"])
    def test_update_many_is_update_on_named_streams(
        self, kwargs: dict[str, Any], name: str
    ) -> None:
        """update_many returns the per-value detections and ends in the same state."""
        stream = list(self.named().values())[int(name)]()
        one, many = self.cls(**kwargs), self.cls(**kwargs)
        found, _ = per_value(one, stream)
        assert many.update_many(stream).tolist() == found
        assert many.to_dict() == one.to_dict()

    @HYPOTHESIS
    @given(data=st.data())
    @pytest.mark.no_cover
    def test_update_many_is_update_on_generated_streams(
        self, kwargs: dict[str, Any], data: st.DataObject
    ) -> None:
        """On generated streams, split at generated points, batches equal values fed one by one."""
        stream = data.draw(self.strategy())
        cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=3)))
        one, many = self.cls(**kwargs), self.cls(**kwargs)
        found, flags = per_value(one, stream)
        batched: list[int] = []
        for start, stop in zip([0, *cuts], [*cuts, len(stream)], strict=True):
            batched += (many.update_many(stream[start:stop]) + start).tolist()
            if stop > start:
                assert many.drift_detected == flags[stop - 1][0]
        assert batched == found
        assert many.to_dict() == one.to_dict()

    def test_empty_batch_changes_nothing(self, kwargs: dict[str, Any]) -> None:
        """update_many([]) returns no index and leaves the state alone, also right after a drift."""
        detector = self.cls(**kwargs)
        stream = next(iter(self.named().values()))()
        detector.update_many(stream[:50])
        before = detector.to_dict()
        assert detector.update_many([]).tolist() == []
        assert detector.to_dict() == before
        found = self.cls(**kwargs).update_many(stream).tolist()
        if found:
            detector = self.cls(**kwargs)
            detector.update_many(stream[: found[0] + 1])
            before = detector.to_dict()
            assert detector.update_many([]).tolist() == []
            assert detector.to_dict() == before

    def test_numpy_scalars_and_lists_are_accepted(self, kwargs: dict[str, Any]) -> None:
        """update takes numpy scalars, update_many a plain list, with the same result."""
        stream = next(iter(self.named().values()))()[:300]
        one, many = self.cls(**kwargs), self.cls(**kwargs)
        for value in stream.astype(np.float32 if not self.binary else np.int64):
            one.update(value)
        many.update_many(stream.astype(np.float32 if not self.binary else np.int64).tolist())
        assert one.to_dict() == many.to_dict()

    # -- state ---------------------------------------------------------------------

    @pytest.mark.parametrize("name", ["0", "2"])
    def test_json_round_trip_continues_the_stream(self, kwargs: dict[str, Any], name: str) -> None:
        """A detector rebuilt from json.dumps(to_dict()) mid-stream detects as if never stopped."""
        stream = list(self.named().values())[int(name)]()
        whole = self.cls(**kwargs).update_many(stream).tolist()
        middle = len(stream) // 2
        first = self.cls(**kwargs)
        before = first.update_many(stream[:middle]).tolist()
        text = json.dumps(first.to_dict(), allow_nan=False)
        revived = self.cls.from_dict(json.loads(text))
        after = (revived.update_many(stream[middle:]) + middle).tolist()
        assert before + after == whole
        assert revived.to_dict()["params"] == first.to_dict()["params"]

    def test_round_trip_right_after_a_detection(self, kwargs: dict[str, Any]) -> None:
        """Saved on the very value that detected, the revived detector resets like the original."""
        stream = next(iter(self.named().values()))()
        found = self.cls(**kwargs).update_many(stream).tolist()
        if not found:
            pytest.skip("no detection on this stream with these parameters")
        first = self.cls(**kwargs)
        first.update_many(stream[: found[0] + 1])
        assert first.drift_detected
        revived = self.cls.from_dict(json.loads(json.dumps(first.to_dict())))
        assert revived.drift_detected
        rest = stream[found[0] + 1 :]
        assert revived.update_many(rest).tolist() == first.update_many(rest).tolist()

    def test_reset_is_a_fresh_detector(self, kwargs: dict[str, Any]) -> None:
        """After reset the detector behaves (and serialises) as a new one."""
        stream = list(self.named().values())[1]()
        used = self.cls(**kwargs)
        used.update_many(stream)
        used.reset()
        fresh = self.cls(**kwargs)
        assert used.to_dict() == fresh.to_dict()
        assert used.update_many(stream).tolist() == fresh.update_many(stream).tolist()

    @pytest.mark.parametrize(
        "data",
        [
            [],
            {"detector": "Nope", "params": {}, "state": {}},
            {"detector": None},
            {"params": {}, "state": {}},
        ],
    )
    def test_from_dict_rejects_foreign_data(self, data: Any) -> None:
        """from_dict names 'data' when the mapping was not written by this class."""
        with pytest.raises(InvalidInputError, match=r"^data must be"):
            self.cls.from_dict(data)

    def test_from_dict_rejects_a_broken_state(self) -> None:
        """A state with a missing or mistyped field is an InvalidInputError, not a KeyError."""
        good = self.cls().to_dict()
        missing = {**good, "state": {}}
        with pytest.raises(InvalidInputError, match="bad state"):
            self.cls.from_dict(missing)
        with pytest.raises(InvalidInputError, match="no 'params' or 'state'"):
            self.cls.from_dict({**good, "state": None})
        with pytest.raises(InvalidInputError, match="unknown parameters"):
            self.cls.from_dict({**good, "params": {"nonsense": 1}})
        garbage = {**good, "state": dict.fromkeys(good["state"], "garbage")}
        with pytest.raises(InvalidInputError):
            self.cls.from_dict(garbage)

    # -- bad input ---------------------------------------------------------------------

    @pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
    def test_non_finite_batch_names_the_index_and_changes_nothing(self, bad: float) -> None:
        """A NaN or inf in a batch raises InvalidInputError naming its index; the state is kept."""
        stream = next(iter(self.named().values()))()[:100].copy()
        detector = self.cls()
        detector.update_many(stream[:10])
        before = detector.to_dict()
        stream[37] = bad
        with pytest.raises(InvalidInputError, match="at index 37"):
            detector.update_many(stream)
        assert detector.to_dict() == before

    @pytest.mark.parametrize("bad", [float("nan"), float("inf"), "1", None, [1.0]])
    def test_bad_single_value_is_rejected(self, bad: Any) -> None:
        """update() of a non-finite or non-number raises InvalidInputError naming x; state kept."""
        detector = self.cls()
        before = detector.to_dict()
        with pytest.raises(InvalidInputError, match=r"^x must be"):
            detector.update(bad)
        assert detector.to_dict() == before

    @pytest.mark.parametrize("bad", [np.zeros((3, 2)), "abc", [[1.0], [2.0]], object()])
    def test_bad_batch_shape_is_rejected(self, bad: Any) -> None:
        """update_many of a non-1-D or non-numeric batch names 'values'."""
        with pytest.raises(InvalidInputError, match=r"^values must be"):
            self.cls().update_many(bad)

    # -- calibration -------------------------------------------------------------------

    @pytest.mark.no_cover
    def test_calibrate_meets_the_target_on_its_bootstrap_stream(self) -> None:
        """After calibrate the detector alarms at most once per N values of its bootstrap stream."""
        from aiguard.detect._streaming._calibrate import bootstrap

        size, per = self.calibration
        reference = list(self.named().values())[-1]()[:size]
        detector = self.cls()
        knob = self.cls._knob.name
        assert detector.calibrate(reference, false_alarms_per=per, seed=3) is detector
        stream = bootstrap(np.asarray(reference, dtype=float), 20 * per, 3)
        params = detector.params()
        if params.get("seed", 0) is None:  # calibration seeds an unseeded KSWIN with its own seed
            params["seed"] = 3
        alarms = len(self.cls(**params).update_many(stream))
        bounds = {self.cls._knob.low, self.cls._knob.high}
        assert alarms <= 20 or getattr(detector, knob) in bounds
        assert detector.drift_detected is False

    def test_calibrate_checks_its_arguments(self) -> None:
        """A bad target or a short reference names the argument."""
        detector = self.cls()
        reference = list(self.named().values())[-1]()[:200]
        with pytest.raises(ConfigurationError, match="false_alarms_per"):
            detector.calibrate(reference, false_alarms_per=0)
        with pytest.raises(ConfigurationError, match="seed"):
            detector.calibrate(reference, false_alarms_per=10, seed=-1)
        with pytest.raises(InvalidInputError, match="reference_stream"):
            detector.calibrate(reference[:20], false_alarms_per=10)
