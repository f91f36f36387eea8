"""Where a test can reach a model: the guard's model hook, or a model object's methods.

A *slot* is one place a model call can be swapped for a wrapper and restored
afterwards. Swaps stack: the last one swapped in is the first one undone.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from aiguard.contain.guard._guard import Guard
from aiguard.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["MODEL_METHODS", "Slot", "find_slots", "guard_of"]

#: The methods of a scikit-learn style model that fault injection reaches.
MODEL_METHODS: tuple[str, ...] = ("predict", "predict_proba", "decision_function")

_CURRENT = "__aiguard_model__"  # the model currently installed through the hook

class Slot:
    """One swappable model call: ``swap(wrap)`` installs ``wrap(current)``, returns an undo."""

    __slots__ = ("is_async", "name")

    def __init__(self, name: str, *, is_async: bool) -> None:
        self.name = name
        self.is_async = is_async

    def swap(self, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Callable[[], None]:
        """Install ``wrap(current model)``; return a function that restores the previous one."""
        raise NotImplementedError


class GuardedSlot(Slot):
    """The model inside a guarded function, reached through ``__aiguard_set_model__``."""

    __slots__ = ("_fn", "clock")

    def __init__(self, fn: Any, name: str) -> None:
        super().__init__(name, is_async=inspect.iscoroutinefunction(fn))
        self._fn = fn
        guard = fn.__aiguard_guard__
        #: the guard's clock, which ``latency`` advances when it is a FakeClock
        self.clock: Any = guard.config.clock

    def swap(self, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Callable[[], None]:
        """Swap the model the guard calls; the guard's own stages stay in place."""
        fn = self._fn
        original = fn.__wrapped__
        previous = getattr(fn, _CURRENT, original)
        new = wrap(previous)
        fn.__aiguard_set_model__(new)
        setattr(fn, _CURRENT, new)

        def undo() -> None:
            fn.__aiguard_set_model__(previous)
            if previous is original:
                delattr(fn, _CURRENT)
            else:
                setattr(fn, _CURRENT, previous)

        return undo


class MethodSlot(Slot):
    """A predict-like method of a model object, patched on the instance."""

    __slots__ = ("_obj",)

    def __init__(self, obj: Any, name: str) -> None:
        super().__init__(name, is_async=inspect.iscoroutinefunction(getattr(obj, name)))
        self._obj = obj

    def swap(self, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Callable[[], None]:
        """Set ``wrap(method)`` as an instance attribute; undo restores or deletes it."""
        obj, name = self._obj, self.name
        own = getattr(obj, "__dict__", {})
        had_own = name in own
        previous = own[name] if had_own else None
        try:
            setattr(obj, name, wrap(getattr(obj, name)))
        except (AttributeError, TypeError) as exc:
            raise ConfigurationError(
                "target", f"a model whose {name!r} can be set on the instance", obj
            ) from exc

        def undo() -> None:
            if had_own:
                setattr(obj, name, previous)
            else:
                delattr(obj, name)

        return undo


def find_slots(target: Any) -> list[Slot]:
    """Return the model calls of *target* that a test can swap.

    *target* is a function decorated by a :class:`~aiguard.Guard` (its model),
    or a model object: each of ``predict``, ``predict_proba`` and
    ``decision_function`` it has (through the guard when the object comes from
    :func:`aiguard.wrap`).

    Raises:
        ConfigurationError: *target* is none of these (e.g. a plain function,
            which callers hold by reference and so cannot be swapped).
    """
    if callable(getattr(target, "__aiguard_set_model__", None)):
        return [GuardedSlot(target, getattr(target, "__name__", "model"))]
    if isinstance(target, type):
        raise ConfigurationError("target", "a model instance, not a class", target)
    slots: list[Slot] = []
    for name in MODEL_METHODS:
        method = getattr(target, name, None)
        if not callable(method):
            continue
        if callable(getattr(method, "__aiguard_set_model__", None)):
            slots.append(GuardedSlot(method, name))
        else:
            slots.append(MethodSlot(target, name))
    if not slots:
        raise ConfigurationError(
            "target",
            "a guarded function, an aiguard.wrap(...) object or a model with "
            "predict, predict_proba or decision_function",
            target,
        )
    return slots


def guard_of(target: Any) -> Guard:
    """Return the :class:`~aiguard.Guard` behind *target*.

    *target* is a Guard, a function it decorates, or an :func:`aiguard.wrap` object.

    Raises:
        ConfigurationError: *target* is none of these.

    Example:
        >>> import aiguard as ag
        >>> g = ag.Guard(name="recs")
        >>> @g
        ... def recommend(x):
        ...     return x
        >>> guard_of(recommend) is g
        True
    """
    if isinstance(target, Guard):
        return target
    for found in (getattr(target, "__aiguard_guard__", None), getattr(target, "guard", None)):
        if isinstance(found, Guard):
            return found
    raise ConfigurationError(
        "target", "a Guard, a function it decorates or an aiguard.wrap(...) object", target
    )
