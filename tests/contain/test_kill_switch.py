"""kill_switch: while its flag is off the model is not called; sync and async, fallback or error."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiguard as ag
from aiguard.errors import ConfigurationError, FeatureDisabledError


@pytest.fixture
def flags() -> ag.Flags:
    return ag.Flags(refresh=None, declare={"recs": True})


def test_on_calls_the_model_off_serves_the_fallback_with_the_same_arguments(
    flags: ag.Flags,
) -> None:
    """Off: the fallback gets the call's arguments and the model is not called."""
    calls: list[tuple[Any, ...]] = []

    def popular(user: str, *, n: int = 3) -> list[str]:
        return [f"popular-{i}" for i in range(n)]

    @ag.kill_switch("recs", flags=flags, fallback=popular)
    def recommend(user: str, *, n: int = 3) -> list[str]:
        calls.append((user, n))
        return [f"{user}-{i}" for i in range(n)]

    assert recommend("ana", n=2) == ["ana-0", "ana-1"]
    flags.set("recs", on=False, reason="drift")
    assert recommend("ana", n=2) == ["popular-0", "popular-1"]
    assert calls == [("ana", 2)]
    flags.set("recs", on=True)
    assert recommend("bo", n=1) == ["bo-0"]


def test_without_fallback_raises_feature_disabled(flags: ag.Flags) -> None:
    """Off and no fallback: FeatureDisabledError naming the flag, reason 'disabled'."""
    calls = []

    @ag.kill_switch("recs", flags=flags)
    def recommend() -> int:
        calls.append(1)
        return 1

    assert recommend() == 1
    flags.set("recs", on=False)
    with pytest.raises(FeatureDisabledError, match="'recs' is switched off") as info:
        recommend()
    assert (info.value.flag, info.value.guard, info.value.reason) == ("recs", None, "disabled")
    assert calls == [1]


def test_global_shutdown_switches_every_kill_switch(flags: ag.Flags) -> None:
    """The global switch turns off even flags nobody declared."""

    @ag.kill_switch("other.feature", flags=flags, fallback=lambda: "fallback")
    def model() -> str:
        return "model"

    assert model() == "model"
    flags.shutdown(reason="INC-1")
    assert model() == "fallback"


async def test_async_model_with_sync_and_async_fallbacks(flags: ag.Flags) -> None:
    """Async functions: a sync or async fallback serves while off; without one, the error."""

    async def model(x: int) -> int:
        await asyncio.sleep(0)
        return x

    async def async_fallback(x: int) -> int:
        return -x

    sync_switched = ag.kill_switch("recs", flags=flags, fallback=lambda x: 0)(model)
    async_switched = ag.kill_switch("recs", flags=flags, fallback=async_fallback)(model)
    bare = ag.kill_switch("recs", flags=flags)(model)
    assert [await sync_switched(5), await async_switched(5), await bare(5)] == [5, 5, 5]
    flags.set("recs", on=False)
    assert [await sync_switched(5), await async_switched(5)] == [0, -5]
    with pytest.raises(FeatureDisabledError):
        await bare(5)
    assert asyncio.iscoroutinefunction(sync_switched)


def test_wrapper_keeps_name_and_docstring(flags: ag.Flags) -> None:
    """functools.wraps: name, docstring and __wrapped__ survive."""

    def recommend() -> None:
        """Recommend things."""

    wrapped = ag.kill_switch("recs", flags=flags)(recommend)
    assert (wrapped.__name__, wrapped.__doc__) == ("recommend", "Recommend things.")
    assert wrapped.__wrapped__ is recommend  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "kwargs", "argument"),
    [
        ("Bad Name", {}, "name"),
        ("recs", {"flags": object()}, "flags"),
        ("recs", {"fallback": 3}, "fallback"),
    ],
)
def test_configuration_is_validated(
    flags: ag.Flags, name: str, kwargs: dict[str, Any], argument: str
) -> None:
    """Bad names, flags objects and fallbacks raise ConfigurationError naming the argument."""
    with pytest.raises(ConfigurationError) as info:
        ag.kill_switch(name, **{"flags": flags, **kwargs})
    assert info.value.argument == argument


def test_sync_function_with_async_fallback_is_refused(flags: ag.Flags) -> None:
    """A sync function cannot be served by an async fallback: refused at decoration."""

    async def fallback() -> int:
        return 0

    with pytest.raises(ConfigurationError, match="fallback"):
        ag.kill_switch("recs", flags=flags, fallback=fallback)(lambda: 1)


def test_decorating_a_non_callable_is_refused(flags: ag.Flags) -> None:
    """Only functions can be decorated."""
    with pytest.raises(ConfigurationError, match="fn"):
        ag.kill_switch("recs", flags=flags)(3)  # type: ignore[arg-type]


def test_fallback_errors_propagate_unchanged(flags: ag.Flags) -> None:
    """The fallback's own exception is not wrapped."""

    def broken() -> int:
        raise LookupError("no popular items")

    @ag.kill_switch("recs", flags=flags, fallback=broken)
    def model() -> int:
        return 1

    flags.set("recs", on=False)
    with pytest.raises(LookupError, match="no popular items"):
        model()
