"""Signal predicates: small callables with a readable repr that combine with ``&``, ``|``, ``~``.

A predicate takes a :class:`~aiguard.detect.Signal` and returns a bool. It
never raises: a predicate that cannot judge a signal (a missing baseline, a NaN
value) answers False, so an unknown figure never matches a "this is mild"
rule by accident.

Example:
    >>> from aiguard.detect import Signal
    >>> p = kind("latency") & ratio_above(5)
    >>> p
    kind('latency') & ratio_above(5)
    >>> p(Signal(source="chat.latency", kind="latency", value=3.0, baseline=0.2, at=0.0))
    True
"""

from __future__ import annotations

import fnmatch
import math
from numbers import Real
from typing import TYPE_CHECKING

from aiguard.detect._signal import SIGNAL_KINDS
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiguard.detect._signal import Signal

__all__ = [
    "Match", "always", "drop_above", "evidence", "kind", "ratio_above", "source",
    "value_above", "value_below",
]


class Match:
    """A signal predicate with a readable repr; combine with ``&``, ``|`` and ``~``.

    Args:
        test: ``signal -> bool``.
        text: how it prints.

    Example:
        >>> from aiguard.detect import Signal
        >>> big = Match(lambda s: s.value > 10, "big")
        >>> (~big)(Signal(source="x", kind="output", value=3, at=0))
        True
    """

    __slots__ = ("_test", "_text")

    def __init__(self, test: Callable[[Signal], bool], text: str) -> None:
        self._test = test
        self._text = text

    def __call__(self, signal: Signal) -> bool:
        """Whether *signal* matches (False when the test cannot judge it)."""
        try:
            return bool(self._test(signal))
        except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError):
            return False

    def __and__(self, other: Match) -> Match:
        """Both match."""
        return Match(lambda s: self(s) and other(s), f"{self._text} & {other._text}")

    def __or__(self, other: Match) -> Match:
        """Either matches."""
        return Match(lambda s: self(s) or other(s), f"({self._text} | {other._text})")

    def __invert__(self) -> Match:
        """Does not match."""
        return Match(lambda s: not self(s), f"~{self._text}")

    def __repr__(self) -> str:
        """The expression that built it."""
        return self._text


def _number(value: object, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise ConfigurationError(argument, "a finite number", value)
    return float(value)


def kind(*kinds: str) -> Match:
    """The signal's kind is one of *kinds* (``"latency"``, ``"fairness"``, ...).

    Example:
        >>> kind("drift", "input")
        kind('drift', 'input')
    """
    for k in kinds:
        if k not in SIGNAL_KINDS:
            raise ConfigurationError("kind", f"one of {', '.join(SIGNAL_KINDS)}", k)
    if not kinds:
        raise ConfigurationError("kinds", "at least one signal kind", kinds)
    wanted = frozenset(kinds)
    return Match(lambda s: s.kind in wanted, f"kind({', '.join(map(repr, kinds))})")


def source(pattern: str) -> Match:
    """The signal's source matches the shell-style *pattern* (``"recs.*"``).

    Example:
        >>> source("recs.*")
        source('recs.*')
    """
    if not isinstance(pattern, str) or not pattern:
        raise ConfigurationError("pattern", "a non-empty string", pattern)
    return Match(lambda s: fnmatch.fnmatchcase(s.source, pattern), f"source({pattern!r})")


def value_above(limit: float) -> Match:
    """``signal.value >= limit``.

    Example:
        >>> value_above(0.1)
        value_above(0.1)
    """
    x = _number(limit, "limit")
    return Match(lambda s: s.value >= x, f"value_above({limit!r})")


def value_below(limit: float) -> Match:
    """``signal.value <= limit``.

    Example:
        >>> value_below(0.8)
        value_below(0.8)
    """
    x = _number(limit, "limit")
    return Match(lambda s: s.value <= x, f"value_below({limit!r})")


def ratio_above(ratio: float) -> Match:
    """``value / baseline >= ratio`` (a latency of 3 s against 200 ms is 15); needs a baseline > 0.

    Example:
        >>> ratio_above(5)
        ratio_above(5)
    """
    x = _number(ratio, "ratio")
    return Match(lambda s: s.baseline is not None and s.baseline > 0
                 and s.value / s.baseline >= x, f"ratio_above({ratio!r})")


def drop_above(amount: float) -> Match:
    """``baseline - value >= amount`` (accuracy 0.92 -> 0.80 is a drop of 0.12); needs a baseline.

    Example:
        >>> drop_above(0.1)
        drop_above(0.1)
    """
    x = _number(amount, "amount")
    return Match(lambda s: s.baseline is not None and s.baseline - s.value >= x - 1e-12,
                 f"drop_above({amount!r})")


def evidence(key: str, *values: object) -> Match:
    """The evidence holds *key* (and, if *values* are given, one of them; a list holding one).

    Example:
        >>> from aiguard.detect import Signal
        >>> sec = evidence("tags", "security")
        >>> sec(Signal(source="x", kind="input", value=1, at=0, evidence={"tags": ["security"]}))
        True
    """
    if not isinstance(key, str) or not key:
        raise ConfigurationError("key", "a non-empty string", key)

    def test(s: Signal) -> bool:
        if key not in s.evidence:
            return False
        if not values:
            return True
        found = s.evidence[key]
        items = found if isinstance(found, (list, tuple, set, frozenset)) else (found,)
        return any(v in items for v in values)

    shown = ", ".join(map(repr, (key, *values)))
    return Match(test, f"evidence({shown})")


def always() -> Match:
    """Every signal.

    Example:
        >>> always()
        always()
    """
    return Match(lambda _s: True, "always()")
