"""Seasonal drift: a risk model trained on winter meets spring.

The payment amounts move (spring runs higher): the input-drift monitor fires
and the default policy calls data drift Medium (notify, no containment: the
playbook's gradual remediation). The retrained model is shadowed, then
canaried to 100% with a statistical judge; a second, broken retrain (slow,
error-prone) is canaried next and rolled back automatically by the judge.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import aiguard as ag
from aiguard import drift
from aiguard._demo._runner import Drill, Response, finish, hand_over, respond, review, write_files
from aiguard.detect import InputDriftMonitor
from aiguard.testing import FakeClock

ROWS = 10
FAULT_AT = 10 * 60


class Model:
    """A risk score over ``amount``; *delay* (seconds) is spent on the drill's clock."""

    def __init__(self, threshold: float, clock: FakeClock, rng: np.random.Generator, *,
                 delay: float = 0.004, errors: float = 0.0) -> None:
        self.threshold, self.clock, self.rng = threshold, clock, rng
        self.delay, self.errors = delay, errors

    def predict(self, amount: np.ndarray, user: int = 0) -> np.ndarray:
        """Scores in (0, 1); raises ``errors`` of the time."""
        del user
        self.clock.advance(self.delay * self.rng.gamma(4.0, 0.25))
        if self.rng.random() < self.errors:
            raise RuntimeError("feature store timeout")
        return np.asarray(1 / (1 + np.exp(-(np.asarray(amount) - self.threshold) / 10)))


def _neutral(amount: np.ndarray, user: int = 0) -> np.ndarray:
    """The fallback: a neutral score, the manual-review queue decides."""
    del user
    return np.full(len(amount), 0.5)


def _user(amount: np.ndarray, user: int) -> int:
    """The canary's sticky key."""
    del amount
    return user


class Season:
    """Traffic, models, registry, guard, monitor and counters."""

    def __init__(self, drill: Drill) -> None:
        self.drill, self.clock = drill, drill.clock
        seed = drill.options.seed
        self.rng = np.random.default_rng(seed)
        self.spring = False
        clock = self.clock
        self.models = {
            "risk-winter": Model(90, clock, np.random.default_rng(seed + 1)),
            "risk-spring": Model(60, clock, np.random.default_rng(seed + 2)),
            "risk-spring-b": Model(60, clock, np.random.default_rng(seed + 3), delay=0.02,
                                   errors=0.05),
        }
        self.registry = ag.ModelRegistry("risk", refresh=None, clock=clock)
        for name, model in self.models.items():
            self.registry.register(name, model.predict)
        winter = np.random.default_rng(seed + 4).lognormal(3.0, 0.8, 5_000)[:, None]
        self.reference = drift.Reference(winter, feature_names=["amount"])
        self.monitor = InputDriftMonitor(self.reference, every=600, clock=clock)
        self.monitor.name = "risk.inputs"
        self.signals: list[ag.Signal] = []
        self.monitor.subscribe(self.signals.append)
        self.route: Any = self.registry
        self.guard = ag.Guard(name="risk", fallback=_neutral, monitors=[self.monitor],
                              clock=clock)
        self.score = self.guard(lambda amount, user=0: self.route(amount, user=user))
        self.counts = drill.counts
        self.counts |= {"calls": 0, "model": 0, "fallback": 0}
        self.recent: list[np.ndarray] = []
        self.first_breach = float("inf")

    def serve(self, seconds: int, label: str, response: Response,
              router: ag.CanaryRouter | None = None) -> None:
        """One call a second; stop early when *router* has decided."""
        for i in range(seconds):
            if router is not None and router.status != "running":
                return
            mean = 3.6 if self.spring else 3.0
            amount = self.rng.lognormal(mean, 0.8, ROWS)
            self.score(amount[:, None], user=int(self.rng.integers(100_000)))
            outcome = self.guard.last_outcome
            self.counts["calls"] += 1
            self.counts["model" if outcome and outcome.served_by == "model" else "fallback"] += 1
            if self.spring:
                self.recent.append(amount)
            self.monitor.drain()
            if self.signals:
                self.first_breach = min(self.first_breach, hand_over(
                    self.drill, response, self.signals, str(self.registry.champion)))
            self.clock.advance(1.0)
            if i % 60 == 0:
                self.drill.progress(i + 1, seconds, label)


def _judge() -> ag.Judge:
    return ag.Judge([ag.MetricSpec("latency", bad="higher", relative=0.25, critical=True),
                     ag.MetricSpec("error", bad="higher", tolerance=0.01, critical=True,
                                   effect="mean")])


def _canary(season: Season, response: Response, stable: str, candidate: str) -> str:
    """Canary *candidate* against *stable*; return how it ended."""
    drill = season.drill
    canary = ag.CanaryRouter(
        season.models[stable].predict, season.models[candidate].predict, steps=(10, 50, 100),
        key=_user, judge=_judge(), min_samples=30, interval=300,
        registry=season.registry, version=candidate, name=f"canary.{candidate}",
        clock=season.clock)
    canary.add_listener(lambda e: drill.emit(
        "recover", f"canary {candidate} {e.kind} at {e.step:g}%: {e.reason}",
        served=f"{candidate} {canary.percent:g}%", canary=e.kind, step=e.step))
    season.route = canary
    drill.emit("recover", f"canary: {candidate} starts at 10% against {stable}",
               served=f"{candidate} 10%")
    season.serve(3600, f"canary {candidate}", response, router=canary)
    season.route = season.registry
    return canary.status


def run(drill: Drill) -> None:
    """Drift, Medium, shadow, canary to 100%, then a worse retrain rolled back."""
    season = Season(drill)
    def team_channel(message: Any) -> None:
        drill.emit("escalate", f"team channel told about {message.get('incident')}: "
                   f"{message.get('title')}", severity=message.get("severity"))

    response = respond(drill, lambda escalation: ag.Policy.default(
        escalation=escalation, notifier=team_channel))
    incidents = response.incidents
    try:
        drill.emit("healthy", "risk-winter scores payments; input drift monitor on amount",
                   served="risk-winter")
        season.serve(FAULT_AT, "winter traffic", response)
        season.spring = True
        fault = drill.clock()
        drill.emit("fault", "the season turns: spring payment amounts run about 80% higher",
                   served="risk-winter")
        while not incidents.open_incidents():
            season.serve(60, "spring traffic", response)
        incident_id = incidents.open_incidents()[0].id
        incidents.ack(incident_id, actor="ana")
        _shadow(season)
        first = _canary(season, response, "risk-winter", "risk-spring")
        second = _canary(season, response, "risk-spring", "risk-spring-b")
        drill.emit("recover", f"registry champion: {season.registry.champion}",
                   served=season.registry.champion, first_canary=first, second_canary=second)
        incident = review(response, incident_id, root_cause="seasonal shift of amounts; the "
                          "winter model was trained on Oct-Dec only",
                          actions=[("retrain monthly on a rolling year", "li")])
        report = season.reference.compare(np.concatenate(season.recent)[:, None],
                                          methods=("ks", "psi"))
        files = write_files(drill, incident, report)
        finish(drill, {
            "calls": season.counts["calls"], "served by a model": season.counts["model"],
            "served by the fallback": season.counts["fallback"],
            "fault to detection (s)": round(season.first_breach - fault, 1),
            "severity": incident.severity.value, "first canary": first,
            "second canary": second, "champion now": season.registry.champion}, files)
    finally:
        season.monitor.close()
        response.close()


def _shadow(season: Season) -> None:
    """risk-spring in shadow of risk-winter on an hour of recorded spring payments."""
    quiet = FakeClock()
    winter = Model(90, quiet, np.random.default_rng(0))
    spring = Model(60, quiet, np.random.default_rng(0))
    shadow = ag.ShadowRouter(winter.predict, spring.predict, name="risk.shadow",
                             seed=season.drill.options.seed)
    for amount in season.recent[-600:]:
        shadow(amount)
    shadow.flush()
    report = shadow.report()
    shadow.close()
    diff = report.score_diff or {}
    season.drill.emit("recover", f"shadow: risk-spring on {report.shadowed} recorded spring "
                      f"calls, mean score change {diff.get('mean', 0.0):+.3f}, "
                      f"{report.errors} errors", served=season.registry.champion)
