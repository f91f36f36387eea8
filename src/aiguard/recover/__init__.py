"""Recovery: get back to a good model safely.

A :class:`ModelRegistry` with one-call rollback and a shared champion choice,
a :class:`ShadowRouter` that validates a model on live traffic without serving
it, a :class:`CanaryRouter` that restores one gradually under a statistical
:class:`Judge`, and :func:`replay` to judge a fix on recorded requests first.
"""

from aiguard.recover._canary import CanaryEvent, CanaryRouter
from aiguard.recover._champion import ChampionChange
from aiguard.recover._judge import Judge, Judgement, MetricResult, MetricSpec, default_judge
from aiguard.recover._registry import ModelRegistry, ModelVersion
from aiguard.recover._replay import ReplayReport, replay
from aiguard.recover._shadow import ShadowRouter
from aiguard.recover._shadow_stats import ShadowReport

__all__ = [
    "CanaryEvent",
    "CanaryRouter",
    "ChampionChange",
    "Judge",
    "Judgement",
    "MetricResult",
    "MetricSpec",
    "ModelRegistry",
    "ModelVersion",
    "ReplayReport",
    "ShadowReport",
    "ShadowRouter",
    "default_judge",
    "replay",
]
