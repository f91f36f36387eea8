"""Type-checked only: the recovery objects' public types, and user judges as the Judge protocol."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiguard import (
    CanaryEvent,
    CanaryRouter,
    ChampionChange,
    Judge,
    Judgement,
    MetricSpec,
    ModelRegistry,
    ReplayReport,
    ShadowReport,
    ShadowRouter,
    replay,
)
from aiguard import typing as ag_typing

if TYPE_CHECKING:
    from collections.abc import Mapping


def model(x: float) -> float:
    return x


registry = ModelRegistry("recs", refresh=None)
registry.register("v1", model)
answer: Any = registry(1.0)
change: ChampionChange = registry.promote("v1", reason="typed")
champion: str | None = registry.champion


def always_pass(candidate: Mapping[str, Any], baseline: Mapping[str, Any]) -> Judgement:
    return Judgement("pass", 1.0, (), "always")


builtin: ag_typing.Judge = Judge([MetricSpec("latency", critical=True)])
custom: ag_typing.Judge = always_pass
canary = CanaryRouter(model, model, judge=custom)
events: tuple[CanaryEvent, ...] = canary.events
shadow = ShadowRouter(model, model)
report: ShadowReport = shadow.report()
replayed: ReplayReport = replay([1.0, 2.0], model, model, judge=builtin)
verdict: str = replayed.verdict
