"""One predicate from exception types and/or predicates (``record=``, ``on=``, ``fallback_on=``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiguard._core._events import log_once
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeAlias

    _One: TypeAlias = "type[BaseException] | Callable[[BaseException], object]"
    #: What ``record=``, ``ignore=``, ``retry_on=``, ``fallback_on=`` take.
    ExceptionFilter: TypeAlias = "_One | tuple[_One, ...] | list[_One]"

__all__ = ["MATCHER_EXPECTED", "ExceptionFilter", "exception_matcher"]

MATCHER_EXPECTED = "an exception type, a predicate exc -> bool, or a tuple of them"


def exception_matcher(spec: object, argument: str) -> Callable[[BaseException], bool]:
    """Turn exception types / predicates (or a tuple or list of them) into one predicate.

    A predicate that raises counts as not matching (logged once): a broken
    user predicate must not turn the model's error into a different one.

    Example:
        >>> matches = exception_matcher((KeyError, lambda e: "busy" in str(e)), "on")
        >>> matches(KeyError()), matches(RuntimeError("busy")), matches(RuntimeError())
        (True, True, False)
    """
    items = spec if isinstance(spec, (tuple, list)) else (spec,)
    types: list[type[BaseException]] = []
    predicates: list[Callable[[BaseException], object]] = []
    for item in items:
        if isinstance(item, type) and issubclass(item, BaseException):
            types.append(item)
        elif callable(item) and not isinstance(item, type):
            predicates.append(item)
        else:
            raise ConfigurationError(argument, MATCHER_EXPECTED, spec)
    classes = tuple(types)
    if not predicates:
        return lambda exc: isinstance(exc, classes)

    def matches(exc: BaseException) -> bool:
        if isinstance(exc, classes):
            return True
        for predicate in predicates:
            try:
                if predicate(exc):
                    return True
            except Exception:  # noqa: PERF203 - a user predicate must not break the call
                log_once("predicate", "aiguard: the %s predicate %r raised; "
                         "it counts as not matching", argument, predicate,
                         event="predicate.raised", name=argument, owner=predicate)
        return False

    return matches
