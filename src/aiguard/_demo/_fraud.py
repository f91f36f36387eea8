"""The fraud model that flags 40% of legitimate payments.

At 03:00 a new fraud model (fraud-v8, miscalibrated) is promoted. The output
monitor sees the share of flagged payments jump from about 2% to about 40%;
the default policy calls bad outputs High: the guard's breaker is forced open
so the rule engine answers, and the on-call engineer is paged. The registry
is rolled back by hand, the model serves again and the incident is resolved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

import aiguard as ag
from aiguard import drift
from aiguard._demo import _runner
from aiguard.detect import OutputMonitor

if TYPE_CHECKING:
    from aiguard._demo._runner import Drill, Response

ROWS = 20  # payments per call; one call a simulated second
FAULT_AT = 10 * 60


def payments(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(amount, foreign, hour)`` rows and whether each is fraud (about 1%)."""
    fraud = rng.random(n) < 0.01
    amount = np.where(fraud, rng.lognormal(6.0, 0.8, n), rng.lognormal(3.5, 1.0, n))
    foreign = np.where(fraud, rng.random(n) < 0.7, rng.random(n) < 0.05).astype(float)
    hour = rng.integers(0, 24, n).astype(float)
    return np.column_stack([amount, foreign, hour]), fraud


def make_model(cut: float) -> Any:
    """A scoring model: flag when the score passes *cut* (fraud-v8's cut is far too low)."""

    def predict(x: np.ndarray) -> np.ndarray:
        score = 1 / (1 + np.exp(-(np.log(x[:, 0]) - 5.0) * 2 - 2.5 * x[:, 1]))
        flagged: np.ndarray = (score > cut).astype(int)
        return flagged

    return predict


def rules_engine(x: np.ndarray) -> np.ndarray:
    """The rule-based fallback: large foreign payments go to review."""
    return ((x[:, 0] > 300) & (x[:, 1] > 0)).astype(int)


class Night:
    """The fraud service: registry, guard, output monitor, counters."""

    def __init__(self, drill: Drill) -> None:
        self.drill, self.clock = drill, drill.clock
        seed = drill.options.seed
        self.rng = np.random.default_rng(seed)
        self.registry = ag.ModelRegistry("fraud", refresh=None, clock=self.clock)
        self.registry.register("fraud-v7", make_model(0.85))
        self.registry.register("fraud-v8", make_model(0.09))
        held_out, _ = payments(np.random.default_rng(seed + 1), 10_000)
        self.monitor = OutputMonitor(make_model(0.85)(held_out), window=1_000, every=200,
                                     min_rows=1_000, clock=self.clock)
        self.monitor.name = "fraud.outputs"
        self.signals: list[ag.Signal] = []
        self.monitor.subscribe(self.signals.append)
        self.breaker = ag.CircuitBreaker(name="fraud", clock=self.clock)
        self.guard = ag.Guard(name="fraud", breaker=self.breaker, fallback=rules_engine,
                              monitors=[self.monitor], clock=self.clock)
        self.score = self.guard(self._champion)
        self.counts = drill.counts
        self.counts |= {"calls": 0, "payments": 0, "model": 0, "rules_engine": 0,
                        "legit_blocked": 0, "fraud_missed": 0}
        self.windows: dict[str, list[np.ndarray]] = {"healthy": [], "incident": []}
        self.first_breach = float("inf")

    def _champion(self, x: np.ndarray) -> np.ndarray:
        """Whichever version is the registry's champion at the time of the call."""
        flagged: np.ndarray = self.registry(x)
        return flagged

    def serve(self, seconds: int, label: str, response: Response) -> None:
        """One call of ``ROWS`` payments a second; the monitor drained after each."""
        for i in range(seconds):
            x, fraud = payments(self.rng, ROWS)
            flagged = self.score(x)
            outcome = self.guard.last_outcome
            by_model = outcome is not None and outcome.served_by == "model"
            self.counts["calls"] += 1
            self.counts["payments"] += ROWS
            self.counts["model" if by_model else "rules_engine"] += 1
            self.counts["legit_blocked"] += int((flagged.astype(bool) & ~fraud).sum())
            self.counts["fraud_missed"] += int((~flagged.astype(bool) & fraud).sum())
            window = "incident" if self.registry.champion == "fraud-v8" else "healthy"
            self.windows[window].append(np.column_stack([x, flagged]))
            self.monitor.drain()
            if self.signals:
                served = "model" if self.breaker.state.value == "closed" else "rules_engine"
                self.first_breach = min(self.first_breach, _runner.hand_over(
                    self.drill, response, self.signals, served))
            self.clock.advance(1.0)
            if i % 30 == 0:
                self.drill.progress(i + 1, seconds, label)


def run(drill: Drill) -> None:
    """Healthy, the bad deploy, containment by rules, rollback, resolution."""
    night = Night(drill)
    response = _runner.respond(drill, lambda escalation: ag.Policy.default(
        guard=night.guard, escalation=escalation))
    incidents = response.incidents
    incidents.watch_guard(night.guard)
    incidents.watch_breaker(night.breaker)
    try:
        drill.emit("healthy", "fraud-v7 scores card payments; output monitor on the share "
                   "flagged (about 2%)", served="model")
        night.serve(FAULT_AT, "healthy traffic", response)
        night.registry.promote("fraud-v8", reason="nightly retrain", actor="ci")
        fault, blocked_before = drill.clock(), night.counts["legit_blocked"]
        drill.emit("fault", "CI promotes fraud-v8 (nightly retrain, miscalibrated cut-off)",
                   served="model")
        incident_id = _contain(night, response)
        night.serve(240, "rules engine serving", response)
        incidents.ack(incident_id, actor="ana")
        drill.emit("respond", "ana (on call) acknowledged", served="rules_engine",
                   incident=incident_id)
        night.serve(15 * 60, "rules engine serving", response)
        change = night.registry.rollback(reason=f"{incident_id}: v8 flags 40%", actor="li")
        night.breaker.reset()
        incidents.set_status(incident_id, "mitigated", actor="li",
                             reason=f"rolled back to {change.version}; breaker reset")
        drill.emit("recover", f"li rolled fraud back to {change.version} and reset the breaker",
                   served="model", incident=incident_id)
        night.serve(10 * 60, "fraud-v7 again", response)
        incident = _runner.review(
            response, incident_id,
            root_cause="the nightly retrain picked its cut-off on a sample without fraud "
                       "labels; fraud-v8 flagged 40% of payments",
            factors=["no replay against last week's labels before promote"],
            actions=[("gate promotes on ag.replay with labels", "li")])
        report = drift.Reference(np.vstack(night.windows["healthy"]), feature_names=[
            "amount", "foreign", "hour", "flagged"]).compare(
            np.vstack(night.windows["incident"]), methods=("ks", "psi"))
        files = _runner.write_files(drill, incident, report)
        _runner.finish(drill, _impact(night, incident, fault, blocked_before), files)
    finally:
        night.monitor.close()
        response.close()


def _contain(night: Night, response: Response) -> str:
    incident_id = _runner.serve_until_contained(
        response, lambda: night.serve(1, "bad deploy", response))
    night.drill.emit("contain", "every payment is now scored by rules_engine",
                     served="rules_engine")
    return incident_id


def _impact(night: Night, incident: Any, fault: float, blocked_before: int) -> dict[str, Any]:
    return {
        **_runner.tally(night.counts, {
            "payments scored": "payments", "calls served by the model": "model",
            "calls served by rules_engine": "rules_engine",
            "legitimate payments flagged": "legit_blocked"}),
        "of them during the incident": night.counts["legit_blocked"] - blocked_before,
        **_runner.timings(night.first_breach, fault, incident),
        "champion now": night.registry.champion,
    }
