"""``wrap``: a scikit-learn style model whose predict methods run through a Guard."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from aiguard.contain.guard._guard import Guard
from aiguard.errors import ConfigurationError

__all__ = ["Wrapped", "wrap"]

M = TypeVar("M")


class Wrapped(Generic[M]):
    """A model whose predict methods run through a guard; other attributes pass through.

    ``apredict``, ``apredict_proba`` and ``adecision_function`` are the async
    forms: they run the guarded method in a worker thread, off the event loop,
    and set ``guard.last_outcome`` in the awaiting task.
    """

    _METHODS = ("predict", "predict_proba", "decision_function")

    def __init__(self, model: M, guard: Guard) -> None:
        if not isinstance(guard, Guard):
            raise ConfigurationError("guard", "a Guard", guard)
        methods = [m for m in self._METHODS if callable(getattr(model, m, None))]
        if not methods:
            raise ConfigurationError(
                "model", "an object with predict, predict_proba or decision_function", model
            )
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_guard", guard)
        for method in methods:
            object.__setattr__(self, method, guard(getattr(model, method)))

    @property
    def model(self) -> M:
        """The wrapped model itself."""
        return self._model  # type: ignore[no-any-return]

    @property
    def guard(self) -> Guard:
        """The guard around the predict methods."""
        return self._guard  # type: ignore[no-any-return]

    async def _athread(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        guarded = self.__dict__.get(method)
        if guarded is None:
            raise AttributeError(f"{type(self._model).__name__!r} object has no attribute "
                                 f"{method!r}")
        result, _ = await self._guard.acall_with_outcome(guarded, *args, **kwargs)
        return result

    async def apredict(self, *args: Any, **kwargs: Any) -> Any:
        """``predict`` through the guard, in a worker thread; ``guard.last_outcome`` is set here."""
        return await self._athread("predict", args, kwargs)

    async def apredict_proba(self, *args: Any, **kwargs: Any) -> Any:
        """``predict_proba`` through the guard, in a worker thread (see :meth:`apredict`)."""
        return await self._athread("predict_proba", args, kwargs)

    async def adecision_function(self, *args: Any, **kwargs: Any) -> Any:
        """``decision_function`` through the guard, in a worker thread (see :meth:`apredict`)."""
        return await self._athread("decision_function", args, kwargs)

    def __getattr__(self, item: str) -> Any:
        """Pass every other attribute through to the model."""
        return getattr(self._model, item)

    def __repr__(self) -> str:
        """Show the model and the guard."""
        return f"wrap({self._model!r}, {self._guard!r})"


def wrap(model: M, guard: Guard) -> Wrapped[M]:
    """Guard a scikit-learn style model's ``predict`` / ``predict_proba`` / ``decision_function``.

    Every other attribute (``classes_``, ``get_params``, ``named_steps``...)
    passes through to the model. ``apredict``, ``apredict_proba`` and
    ``adecision_function`` are the async forms (see :class:`Wrapped`).

    Example:
        >>> import aiguard as ag
        >>> class Model:
        ...     classes_ = [0, 1]
        ...     def predict(self, X):
        ...         raise RuntimeError("boom")
        >>> safe = ag.wrap(Model(), ag.Guard(name="clf", fallback=lambda X: [0] * len(X)))
        >>> safe.predict([[1.0], [2.0]]), safe.classes_
        ([0, 0], [0, 1])

        The async forms run the guarded method in a worker thread and set
        ``last_outcome`` in the awaiting task:

        >>> import asyncio
        >>> fresh = ag.wrap(Model(), ag.Guard(name="async", fallback=lambda X: [0] * len(X)))
        >>> async def endpoint(X):
        ...     result = await fresh.apredict(X)
        ...     return result, fresh.guard.last_outcome.reason
        >>> asyncio.run(endpoint([[1.0]]))
        ([0], 'error')
    """
    return Wrapped(model, guard)
