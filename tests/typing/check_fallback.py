"""Type-checked only: @fallback keeps signatures and return types; checks compose."""

from __future__ import annotations

from aiguard import checks, fallback


def rules(x: list[float], *, scale: float = 1.0) -> list[float]:
    return [0.5 * scale for _ in x]


async def async_rules(x: list[float], *, scale: float = 1.0) -> list[float]:
    return [0.5 * scale for _ in x]


@fallback(rules, async_rules, check=checks.finite() & checks.in_range(0, 1), rows=True)
def predict(x: list[float], *, scale: float = 1.0) -> list[float]:
    return [v * scale for v in x]


@fallback(rules, on=(TimeoutError, lambda e: "overloaded" in str(e)))
async def apredict(x: list[float], *, scale: float = 1.0) -> list[float]:
    return [v * scale for v in x]


y: list[float] = predict([0.1, 0.2], scale=2.0)
predict([0.1], scal=2.0)  # type: ignore[call-arg]
predict("not a list")  # type: ignore[arg-type]
bad: str = predict([0.1])  # type: ignore[assignment]


async def use() -> list[float]:
    """Awaiting the decorated coroutine function gives its declared result."""
    z: list[float] = await apredict([0.3], scale=0.5)
    await apredict([0.3], scale="x")  # type: ignore[arg-type]
    return z


combined: checks.Check = checks.finite() & checks.in_range(0, None) | checks.shape((None, 3))
plain: checks.Check = checks.as_check(lambda r: r is not None)
mask = combined([1.0, 2.0])
