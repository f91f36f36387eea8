"""The shell every streaming detector shares.

A detector is a small state machine fed one value at a time (``update``) or a
batch (``update_many``). Parameters are validated once at construction and are
read-only afterwards; the state round-trips through :meth:`to_dict` /
:meth:`from_dict` (plain JSON types only, non-finite floats spelled ``"inf"``).

Every detector follows river's convention for what happens after a drift: the
update that detects a drift sets ``drift_detected``; the *next* update first
resets the detector's statistics (an alarm starts a new reference), then
processes its value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, NoReturn, TypeVar, overload

import attrs
import numpy as np

from aiguard.detect._streaming._params import (
    as_binary_many,
    as_values,
    decode_float,
    encode_float,
)
from aiguard.errors import InvalidInputError

if TYPE_CHECKING:
    import numpy.typing as npt
    from typing_extensions import Self

__all__ = ["Knob", "Param", "StreamingDetector", "state_fields"]

T = TypeVar("T")


class Param(Generic[T]):
    """A read-only parameter, stored on the instance as ``_<name>``.

    *check* validates the constructor's argument, called as
    ``check(value, name, **limits)`` by :meth:`StreamingDetector._set_params`
    (None: the constructor checks it itself). A class's parameters, in the
    order they are declared, are its ``_param_names``.
    """

    def __init__(self, check: Callable[..., T] | None = None, **limits: Any) -> None:
        self.check = check
        self.limits = limits

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.slot = "_" + name

    @overload
    def __get__(self, instance: None, owner: type) -> Param[T]: ...

    @overload
    def __get__(self, instance: object, owner: type) -> T: ...

    def __get__(self, instance: object, owner: type) -> Param[T] | T:
        if instance is None:
            return self
        value: T = getattr(instance, self.slot)
        return value

    def __set__(self, instance: object, value: T) -> NoReturn:
        msg = f"{self.name} is read-only: build a new detector, or use calibrate()"
        raise AttributeError(msg)


@attrs.frozen
class Knob:
    """The parameter :meth:`StreamingDetector.calibrate` tunes, and how.

    Attributes:
        name: the constructor argument.
        low: the most sensitive value searched (before scaling).
        high: the quietest value searched (before scaling).
        quieter_when_larger: whether larger values give fewer alarms.
        log: search on a log scale.
        scaled: multiply the bounds by the reference stream's spread.
        capped_by: another parameter that bounds this one from above.
    """

    name: str
    low: float
    high: float
    quieter_when_larger: bool
    log: bool = True
    scaled: bool = False
    capped_by: str | None = None


def state_fields(floats: str, **kinds: type) -> dict[str, type]:
    """A ``_state_fields`` table: the *kinds* given by name, then the space-separated *floats*.

    Example:
        >>> state_fields("mean", n=int)
        {'n': <class 'int'>, 'mean': <class 'float'>}
    """
    return {**kinds, **dict.fromkeys(floats.split(), float)}


_ENCODE: dict[type, Any] = {bool: bool, int: int, float: encode_float}
_DECODE: dict[type, Any] = {bool: bool, int: int, float: decode_float}


class StreamingDetector:
    """Base of the streaming change detectors (see :class:`aiguard.typing.Detector`).

    A subclass names its scalar state in ``_state_fields`` (attribute without
    its leading underscore -> ``bool``, ``int`` or ``float``, in a fixed order):
    ``_get_state`` / ``_set_state`` (de)serialise those; a subclass with more
    (lists, windows) extends both.
    """

    _param_names: ClassVar[tuple[str, ...]] = ()
    _state_fields: ClassVar[dict[str, type]] = {"drift": bool}
    _knob: ClassVar[Knob]
    _binary: ClassVar[bool] = False
    _drift: bool

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names = tuple(name for name, value in vars(cls).items() if isinstance(value, Param))
        if names:
            cls._param_names = names

    def _set_params(self, **values: Any) -> None:
        """Check each constructor argument with its :class:`Param`'s check, in order; store it."""
        for name, value in values.items():
            param: Param[Any] = getattr(type(self), name)
            assert param.check is not None, f"{name} has no check"
            setattr(self, param.slot, param.check(value, name, **param.limits))

    @property
    def drift_detected(self) -> bool:
        """Whether the last value processed completed a detection."""
        return self._drift

    def update(self, x: float) -> None:  # pragma: no cover - every detector overrides
        """Process one value."""
        raise NotImplementedError

    def update_many(self, values: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Process *values* in order; return the indices at which a drift was detected.

        The detector ends in the same state as after calling :meth:`update` on each
        value. The whole batch is validated first: a bad value raises
        :class:`~aiguard.errors.InvalidInputError` naming its index and the state
        is left untouched.
        """
        array = as_binary_many(values) if self._binary else as_values(values)
        return np.asarray(self._update_many(array), dtype=np.intp)

    def _update_many(
        self, x: npt.NDArray[np.float64]
    ) -> list[int] | npt.NDArray[np.intp]:  # pragma: no cover
        raise NotImplementedError

    def reset(self) -> None:  # pragma: no cover - every detector overrides
        """Forget everything seen: back to the state just after construction."""
        raise NotImplementedError

    def _get_state(self) -> dict[str, Any]:
        return {
            name: _ENCODE[kind](getattr(self, "_" + name))
            for name, kind in self._state_fields.items()
        }

    def _set_state(self, state: Mapping[str, Any]) -> None:
        for name, kind in self._state_fields.items():
            setattr(self, "_" + name, _DECODE[kind](state[name]))

    def params(self) -> dict[str, Any]:
        """The constructor arguments, by name."""
        return {name: getattr(self, name) for name in self._param_names}

    def to_dict(self) -> dict[str, Any]:
        """The parameters and the state as plain JSON types (``json.dumps`` accepts it)."""
        return {
            "detector": type(self).__name__,
            "params": self.params(),
            "state": self._get_state(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild a detector from :meth:`to_dict`'s output (for example after ``json.loads``).

        Raises:
            InvalidInputError: *data* was not written by this detector class's ``to_dict``.
            ConfigurationError: a parameter in *data* is invalid.
        """
        expected = f"a {cls.__name__}.to_dict() mapping"
        if not isinstance(data, Mapping) or data.get("detector") != cls.__name__:
            got = data.get("detector") if isinstance(data, Mapping) else type(data).__name__
            raise InvalidInputError("data", expected, repr(got))
        params, state = data.get("params"), data.get("state")
        if not isinstance(params, Mapping) or not isinstance(state, Mapping):
            raise InvalidInputError("data", expected, "no 'params' or 'state' mapping")
        try:
            detector = cls(**params)
        except TypeError as exc:
            raise InvalidInputError("data", expected, f"unknown parameters ({exc})") from exc
        try:
            detector._set_state(state)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise InvalidInputError("data", expected, f"a bad state ({exc!r})") from exc
        return detector

    def calibrate(
        self, reference_stream: npt.ArrayLike, *, false_alarms_per: int, seed: int = 0
    ) -> Self:
        """Set the detection threshold for one false alarm per *false_alarms_per* values.

        A method on every detector; it changes one parameter (``threshold`` for
        PageHinkley, ``h`` for CUSUM, ``delta`` for ADWIN, ``alpha`` for KSWIN,
        ``drift_threshold`` for DDM, ``beta`` for EDDM, ``drift_confidence`` for
        HDDM_A and HDDM_W), resets the detector and returns it. The method is in
        :mod:`aiguard.detect._streaming._calibrate`.

        Args:
            reference_stream: values from a stable period (no drift), at least 100.
            false_alarms_per: the target: at most one alarm per this many values.
            seed: seeds the bootstrap, so calibration is reproducible.

        Returns:
            The detector itself, reset, with the calibrated parameter.
        """
        from aiguard.detect._streaming._calibrate import calibrate  # noqa: PLC0415 - cycle

        calibrate(self, reference_stream, false_alarms_per=false_alarms_per, seed=seed)
        return self

    def _configure(self, **changes: Any) -> None:
        """Re-run the constructor's validation with *changes* and reset."""
        type(self).__init__(self, **{**self.params(), **changes})

    def __repr__(self) -> str:
        """``Name(param=value, ...)``."""
        args = ", ".join(f"{name}={value!r}" for name, value in self.params().items())
        return f"{type(self).__name__}({args})"
