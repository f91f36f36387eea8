"""The fault kinds an :class:`~aiguard.testing.Injector` applies, each with its counts."""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import numpy as np

from aiguard.errors import ConfigurationError

__all__ = [
    "ConstantFault",
    "DriftFault",
    "Fault",
    "LatencyFault",
    "NaNFault",
    "RaiseFault",
    "rate_of",
]


def rate_of(rate: Any) -> float:
    """Validate a fault rate: a number in [0, 1]."""
    if isinstance(rate, bool) or not isinstance(rate, Real) or not 0.0 <= float(rate) <= 1.0:
        raise ConfigurationError("rate", "a number in [0, 1]", rate)
    return float(rate)


class Fault:
    """One fault of an :class:`Injector`, with its counts.

    Attributes:
        kind: ``"raise"``, ``"latency"``, ``"nan"``, ``"constant"`` or ``"drift"``.
        rate: the share of calls it affects (drawn from the injector's seed).
        calls: how many calls reached this fault.
        injected: how many of them it affected.

    Example:
        >>> import aiguard as ag
        >>> from aiguard.testing import inject
        >>> g = ag.Guard(name="demo", fallback=lambda x: 0.0)
        >>> @g
        ... def score(x):
        ...     return x
        >>> with inject(score).raise_(RuntimeError, rate=0.5) as faults:
        ...     _ = [score(1.0) for _ in range(100)]
        >>> fault = faults.faults[0]
        >>> fault.kind, fault.calls, 30 < fault.injected < 70
        ('raise', 100, True)
    """

    __slots__ = ("_rng", "calls", "injected", "kind", "rate")

    def __init__(self, kind: str, rate: float, rng: np.random.Generator) -> None:
        self.kind = kind
        self.rate = rate
        self.calls = 0
        self.injected = 0
        self._rng = rng

    def _fires(self) -> bool:
        """Count one call and draw whether this fault hits it (caller holds the lock)."""
        self.calls += 1
        if self._rng.random() < self.rate:
            self.injected += 1
            return True
        return False

    def __repr__(self) -> str:
        """Show the kind, the rate and the counts."""
        return (f"Fault({self.kind!r}, rate={self.rate}, calls={self.calls}, "
                f"injected={self.injected})")


class RaiseFault(Fault):
    """Raise an exception instead of calling the model."""

    __slots__ = ("_make",)

    def __init__(self, exc: Any, rate: float, rng: np.random.Generator) -> None:
        super().__init__("raise", rate, rng)
        if isinstance(exc, BaseException):
            instance = exc

            def make() -> BaseException:
                return instance.with_traceback(None)
        elif isinstance(exc, type) and issubclass(exc, BaseException):
            kind: type[BaseException] = exc

            def make() -> BaseException:
                try:
                    return kind(f"aiguard: injected {kind.__name__}")
                except TypeError:
                    return kind()
        else:
            raise ConfigurationError("exc", "an exception type or instance", exc)
        try:
            make()
        except TypeError as error:
            raise ConfigurationError(
                "exc", "an exception instance, or a type constructible from a message", exc
            ) from error
        self._make = make


class LatencyFault(Fault):
    """Delay the call by ``seconds``."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: Any, rate: float, rng: np.random.Generator) -> None:
        super().__init__("latency", rate, rng)
        if (isinstance(seconds, bool) or not isinstance(seconds, Real)
                or not 0.0 <= float(seconds) < math.inf):
            raise ConfigurationError("seconds", "a finite number >= 0", seconds)
        self.seconds = float(seconds)


class NaNFault(Fault):
    """Set all rows, or a share ``rows`` of them, of the output to NaN."""

    __slots__ = ("rows",)

    def __init__(self, rows: Any, rate: float, rng: np.random.Generator) -> None:
        super().__init__("nan", rate, rng)
        if rows is not None and (
            isinstance(rows, bool) or not isinstance(rows, Real) or not 0.0 < float(rows) <= 1.0
        ):
            raise ConfigurationError("rows", "None (all rows) or a share in (0, 1]", rows)
        self.rows = None if rows is None else float(rows)

    def apply(self, result: Any) -> Any:
        """Return a float copy of *result* with the chosen rows set to NaN."""
        if isinstance(result, np.ndarray) and result.dtype.kind in "fc":
            out = result.copy()
        else:
            out = np.array(result, dtype=float)
        if out.ndim == 0 and not isinstance(result, np.ndarray):
            return math.nan
        if self.rows is None or out.ndim == 0:
            out[...] = np.nan
        else:
            n = out.shape[0]
            k = min(n, max(1, round(self.rows * n)))
            out[self._rng.choice(n, size=k, replace=False)] = np.nan
        return out


class ConstantFault(Fault):
    """Collapse the output: every row the same."""

    __slots__ = ("value",)

    def __init__(self, value: Any, rate: float, rng: np.random.Generator) -> None:
        super().__init__("constant", rate, rng)
        self.value = value

    def apply(self, result: Any) -> Any:
        """Return *result* with every row equal (to ``value``, or to the first row)."""
        arr = np.asarray(result)
        if arr.ndim == 0:
            return result if self.value is None else self.value
        if self.value is None:
            return np.broadcast_to(arr[:1], arr.shape).copy()
        out = np.empty(arr.shape, dtype=np.result_type(arr, np.asarray(self.value)))
        out[...] = self.value
        return out


class DriftFault(Fault):
    """Move the inputs: add ``shift`` to some features of the first argument."""

    __slots__ = ("features", "shift")

    def __init__(self, shift: Any, features: Any, rate: float, rng: np.random.Generator) -> None:
        super().__init__("drift", rate, rng)
        try:
            shift_arr = np.asarray(shift, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError("shift", "a number or an array of numbers", shift) from exc
        if isinstance(shift, bool) or not np.all(np.isfinite(shift_arr)):
            raise ConfigurationError("shift", "a finite number or array of numbers", shift)
        self.shift = shift if shift_arr.ndim == 0 else shift_arr
        if features is None or isinstance(features, (int, str)):
            self.features = None if features is None else [features]
        else:
            self.features = list(features)
        if self.features is not None and (
            not self.features
            or not all(isinstance(f, (int, str)) and not isinstance(f, bool)
                       for f in self.features)
        ):
            raise ConfigurationError(
                "features", "None (all), a column index or name, or a list of them", features
            )

    def apply(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """Return *args* with ``shift`` added to the chosen features of the first argument."""
        if not args:
            raise ConfigurationError("drift", "a model called with the features first", args)
        x = args[0]
        if hasattr(x, "columns") and hasattr(x, "copy"):  # a pandas DataFrame
            moved = x.copy()
            columns = list(x.columns) if self.features is None else self.features
            moved[columns] = moved[columns] + self.shift
        else:
            arr = np.array(x, dtype=float)
            if self.features is None:
                moved = arr + self.shift
            else:
                arr[..., self.features] += self.shift  # type: ignore[index]
                moved = arr
        return (moved, *args[1:])
