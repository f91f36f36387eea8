"""Type-checked only: a guarded function keeps its signature; wrap() keeps the model's type."""

from __future__ import annotations

import numpy as np
from typing_extensions import assert_type

import aiguard as ag

recs = ag.Guard(name="recs", check=ag.checks.finite(), fallback=lambda x, *, k=3: np.zeros(len(x)))


@recs
def recommend(x: np.ndarray, *, k: int = 3) -> np.ndarray:
    return np.asarray(x[:, :k].sum(axis=1))


@recs
async def arecommend(x: np.ndarray, *, k: int = 3) -> np.ndarray:
    return np.asarray(x[:, :k].sum(axis=1))


@ag.guard
def plain(x: float) -> float:
    return x


assert_type(recommend(np.ones((2, 3)), k=2), np.ndarray)
assert_type(plain(1.0), float)
recommend(np.ones((2, 3)), kk=2)  # type: ignore[call-arg]
recommend(np.ones((2, 3)), k="2")  # type: ignore[arg-type]
plain("x")  # type: ignore[arg-type]


async def use() -> np.ndarray:
    """Awaiting the guarded coroutine gives its declared result."""
    out = await arecommend(np.ones((2, 3)), k=1)
    assert_type(out, np.ndarray)
    return out


class Model:
    """A scikit-learn style model."""

    classes_ = (0, 1)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x.sum(axis=1))


safe = ag.wrap(Model(), ag.Guard(name="clf"))
assert_type(safe.model, Model)
assert_type(safe.guard, ag.Guard)
outcome: ag.Outcome | None = recs.last_outcome


assert_type(recs.call_with_outcome(recommend, np.ones((2, 3)), k=2),
            tuple[np.ndarray, ag.Outcome])
recs.call_with_outcome(recommend, np.ones((2, 3)), kk=2)  # type: ignore[call-arg]



@recs
async def ascore(x: float, *, k: int = 3) -> float:
    return x * k


async def use_with_outcome() -> None:
    """acall_with_outcome gives the awaited result of async and sync functions with the outcome."""
    assert_type(await recs.acall_with_outcome(ascore, 1.0, k=1), tuple[float, ag.Outcome])
    assert_type(await recs.acall_with_outcome(plain, 1.0), tuple[float, ag.Outcome])
    await recs.acall_with_outcome(ascore, "x")  # type: ignore[call-overload]
