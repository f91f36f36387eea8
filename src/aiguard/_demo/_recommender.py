"""The seed's 3 AM incident: winter coats for Arizona.

A small synthetic catalogue and three model versions. At 02:41 an ETL deploy
makes the feature pipeline write an empty ``region``, which it defaults to the
first region of its list (Alaska); from 03:00 every user looks like an Alaskan
to the personalised model. The input-drift and output monitors fire, the
policy calls it Critical, kills the personalised model's flag (the rule-based
fallback serves), pages and rolls the registry back; once the pipeline is
fixed, the rebuilt model is shadowed, replayed and canaried back to 100%.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

import aiguard as ag
from aiguard import drift, rules
from aiguard._demo._runner import (
    START,
    Drill,
    Response,
    finish,
    hand_over,
    respond,
    review,
    serve_until_contained,
    tally,
    timings,
    write_files,
)
from aiguard.detect import InputDriftMonitor, OutputMonitor

if TYPE_CHECKING:
    from collections.abc import Callable

REGIONS = ("Alaska", "Minnesota", "Washington", "Texas", "Arizona")
TEMPERATURE = np.array([-8.0, 0.0, 9.0, 21.0, 30.0])  # December average, degrees C
CATALOGUE = ("winter coats", "rain jackets", "hiking boots", "swimwear", "sunscreen",
             "baby products", "board games", "garden tools")
COATS, ARIZONA, POPULAR = 0, 4, 6
ROWS = 10  # sessions scored per call; one call a simulated second


def sessions(rng: np.random.Generator, n: int) -> np.ndarray:
    """Feature rows ``(region, age, affinity)`` as they should be."""
    region = rng.integers(0, len(REGIONS), n).astype(float)
    age = rng.integers(18, 80, n).astype(float)
    affinity = rng.random(n)
    return np.column_stack([region, age, affinity])


def broken_pipeline(x: np.ndarray) -> np.ndarray:
    """The ETL fault: region empty, defaulted to the first region of the list (Alaska)."""
    seen: np.ndarray = x.copy()
    seen[:, 0] = 0.0
    return seen


def make_model(*, use_age: bool, rng: np.random.Generator, ms: float,
               clock: ag.testing.FakeClock) -> Callable[..., np.ndarray]:
    """A personalised model: climate picks the category, age and affinity refine it."""

    def predict(x: np.ndarray, user: int = 0) -> np.ndarray:
        del user  # the canary routes on it
        clock.advance(ms / 1000 * rng.gamma(8.0, 1 / 8))
        temp = TEMPERATURE[x[:, 0].astype(int)]
        warm = np.where(x[:, 2] < 0.5, 3, 4)
        mild = np.where(x[:, 2] < 0.5, 1, 2)
        cat = np.where(temp < 5, COATS, np.where(temp < 15, mild, warm))
        if use_age:
            cat = np.where(x[:, 1] > 70, POPULAR, np.where((x[:, 1] < 35) & (x[:, 2] > 0.9), 5,
                                                           cat))
        return cat.astype(int)

    return predict


def popular_items(x: np.ndarray, user: int = 0) -> np.ndarray:
    """The rule-based fallback: this week's bestseller for everyone."""
    del user
    return np.full(len(x), POPULAR)


def truth(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What each session actually bought: the climate's category, 10% noise."""
    ideal = make_model(use_age=True, rng=rng, ms=0.0, clock=ag.testing.FakeClock())(x)
    noise = rng.random(len(x)) < 0.1
    return np.where(noise, rng.integers(0, len(CATALOGUE), len(x)), ideal)


class Night:
    """The recommender's wiring and the counters the impact is computed from."""

    def __init__(self, drill: Drill) -> None:
        seed = drill.options.seed
        self.drill, self.clock = drill, drill.clock
        self.rng = np.random.default_rng(seed)
        self.train = sessions(np.random.default_rng(seed + 1), 5_000)
        clock = self.clock
        # the same logic in every version: the fault is in the pipeline, not the weights
        self.v11 = make_model(use_age=True, rng=np.random.default_rng(seed + 2), ms=20,
                              clock=clock)
        self.v12 = make_model(use_age=True, rng=np.random.default_rng(seed + 3), ms=20,
                              clock=clock)
        self.v13 = make_model(use_age=True, rng=np.random.default_rng(seed + 4), ms=14,
                              clock=clock)
        self.registry = ag.ModelRegistry("recs", refresh=None, clock=clock)
        self.registry.register("recs-v11", self.v11, metadata={"trained_on": "Nov"})
        self.registry.register("recs-v12", self.v12, metadata={"trained_on": "Nov, new region"})
        self.registry.register("recs-v13", self.v13, metadata={"trained_on": "Nov, fixed"})
        self.registry.promote("recs-v12", reason="weekly release", actor="ci")
        self.flags = ag.Flags(refresh=None, clock=clock, wall_clock=clock,
                              declare={"recs.personalized": True})
        self.reference = drift.Reference(self.train, feature_names=["region", "age", "affinity"])
        self.monitors: list[Any] = [
            InputDriftMonitor(self.reference, every=300, clock=clock),
            OutputMonitor(self.v12(self.train), window=600, every=300, clock=clock),
        ]
        self.monitors[0].name, self.monitors[1].name = "recs.inputs", "recs.outputs"
        self.signals: list[ag.Signal] = []
        for monitor in self.monitors:
            monitor.subscribe(self.signals.append)
        self.route: Callable[..., np.ndarray] = self.registry
        self.guard = ag.Guard(name="recs", kill_switch="recs.personalized", flags=self.flags,
                              fallback=popular_items, monitors=self.monitors, clock=clock)
        self.recommend = self.guard(self._model)
        self.counts = drill.counts
        self.counts |= {"calls": 0, "sessions": 0, "model": 0, "fallback": 0,
                       "coats_to_arizona": 0}
        self.recorded: list[np.ndarray] = []
        self.user = 0
        self.first_breach = float("inf")

    def _model(self, x: np.ndarray, user: int = 0) -> np.ndarray:
        return self.route(x, user=user)

    def policy(self, escalation: ag.Escalation) -> ag.Policy:
        """Bizarre outputs are Critical here: kill, roll back, page; the rest as by default."""
        critical = rules.when(
            rules.kind("output") & rules.source("recs.*"), severity="critical",
            actions=[rules.kill("recs.personalized", flags=self.flags),
                     rules.rollback(self.registry), rules.page(escalation)],
            type="data_quality", name="bizarre recommendations")
        return ag.Policy([critical, *rules.default_rules(escalation=escalation)])

    def serve(self, seconds: int, *, corrupt: bool, label: str,
              response: Response | None = None) -> None:
        """Simulated traffic: one call of ``ROWS`` sessions a second, monitors drained each call."""
        for i in range(seconds):
            x = sessions(self.rng, ROWS)
            self.user += 1
            out = self.recommend(broken_pipeline(x) if corrupt else x, user=self.user)
            self._count(x, out)
            if corrupt:
                self.recorded.append(x)  # the backfill restores the true features
            for monitor in self.monitors:
                monitor.drain()
            if self.signals and response is not None:
                self.hand_over(response)
            self.clock.advance(1.0)
            if i % 30 == 0:
                self.drill.progress(i + 1, seconds, label)

    def _count(self, x: np.ndarray, out: np.ndarray) -> None:
        outcome = self.guard.last_outcome
        self.counts["calls"] += 1
        self.counts["sessions"] += len(x)
        by_model = outcome is not None and outcome.served_by == "model"
        self.counts["model" if by_model else "fallback"] += 1
        if by_model:  # x holds the true features: what did Arizona get?
            self.counts["coats_to_arizona"] += int(((x[:, 0] == ARIZONA) & (out == COATS)).sum())

    def hand_over(self, response: Response) -> None:
        """Give the monitors' signals to the incidents, in order."""
        served = "model" if self.flags.enabled("recs.personalized") else "popular_items"
        self.first_breach = min(self.first_breach,
                                hand_over(self.drill, response, self.signals, served))

FAULT_AT = 10 * 60  # 03:00, ten minutes into the drill


def run(drill: Drill) -> None:
    """The whole night, phase by phase."""
    night = Night(drill)
    response = respond(drill, night.policy)
    incidents = response.incidents
    incidents.watch_guard(night.guard)
    incidents.watch_flags(night.flags)
    try:
        drill.emit("healthy", f"recs-v12 recommends {len(CATALOGUE)} categories to shoppers in "
                   f"{len(REGIONS)} regions; monitors: input drift (PSI per feature), output "
                   "shares", served="model")
        night.serve(FAULT_AT, corrupt=False, label="healthy traffic", response=response)
        drill.emit("fault", "feature pipeline: region empty since the 02:41 ETL deploy, "
                   "defaulted to Alaska", served="model")
        fault = drill.clock()
        incident_id = _contain(night, response)
        _respond(night, response, incident_id)
        _recover(night, response, incident_id)
        incident = review(
            response, incident_id,
            root_cause="ETL deploy at 02:41 wrote an empty region; the feature pipeline "
                       "defaulted it to the first region (Alaska)",
            factors=["no input check on region against the training data"],
            actions=[("checks.within_reference on region in the Guard", "li"),
                     ("a schema test on the ETL's region column", "ana")])
        report = night.reference.compare(broken_pipeline(np.vstack(night.recorded)),
                                         methods=("ks", "psi"))
        files = write_files(drill, incident, report)
        finish(drill, _impact(night, incident, fault), files)
    finally:
        for monitor in night.monitors:
            monitor.close()
        response.close()


def _contain(night: Night, response: Response) -> str:
    """Corrupted traffic until an incident is contained; return its id."""
    incident_id = serve_until_contained(response, lambda: night.serve(
        1, corrupt=True, label="3 AM traffic", response=response))
    night.drill.emit("contain", "every recommendation now comes from popular_items",
                     served="popular_items")
    return incident_id


def _respond(night: Night, response: Response, incident_id: str) -> None:
    """People: the on-call engineer acknowledges, takes command, finds the cause."""
    incidents = response.incidents
    night.serve(300, corrupt=True, label="fallback serving", response=response)
    incidents.ack(incident_id, actor="ana")
    incidents.assign(incident_id, "commander", "ana", actor="ana")
    incidents.assign(incident_id, "technical_lead", "li", actor="ana")
    night.drill.emit("respond", "ana (on call) acknowledged: the escalation clock stops",
                     incident=incident_id, served="popular_items")
    night.serve(20 * 60, corrupt=True, label="fallback serving", response=response)
    incidents.note(incident_id, "region empty for every row since 03:00 (ETL deploy at 02:41)",
                   actor="li")
    incidents.set(incident_id, "started_at", START + FAULT_AT, actor="li")
    incidents.set_status(incident_id, "mitigated", actor="li",
                         reason="pipeline fixed, features backfilled")
    assert incidents.flush()



def _recover(night: Night, response: Response, incident_id: str) -> None:
    """The rolled-back v11 serves again with v13 in shadow; replay; canary v13 to 100%."""
    drill, registry = night.drill, night.registry
    v13_shadow = make_model(use_age=True, rng=np.random.default_rng(drill.options.seed + 5),
                            ms=0.0, clock=ag.testing.FakeClock())
    shadow = ag.ShadowRouter(registry, v13_shadow, name="recs.shadow", seed=drill.options.seed)
    night.route = shadow
    night.flags.set("recs.personalized", on=True, actor="ana",
                    reason=f"{incident_id}: pipeline fixed; {registry.champion} serves")
    drill.emit("recover", f"flag recs.personalized back on: {registry.champion} serves, "
               "recs-v13 in shadow", served=registry.champion, incident=incident_id)
    night.serve(600, corrupt=False, label="shadow", response=response)
    shadow.flush()
    shadow_report = shadow.report()
    shadow.close()
    drill.emit("recover", f"shadow: recs-v13 agrees with {registry.champion} on "
               f"{shadow_report.agreement:.1%} of {shadow_report.compared_rows} sessions, "
               f"{shadow_report.errors} errors", served=registry.champion,
               agreement=shadow_report.agreement)
    _replay(night)
    _canary(night, response)


def _replay(night: Night) -> None:
    """The incident window's requests, backfilled, through v13 and v11 with what people bought."""
    rows = np.vstack(night.recorded)
    labels = truth(rows, np.random.default_rng(night.drill.options.seed + 6))
    quiet = ag.testing.FakeClock()
    v11 = make_model(use_age=True, rng=np.random.default_rng(0), ms=0.0, clock=quiet)
    v13 = make_model(use_age=True, rng=np.random.default_rng(0), ms=0.0, clock=quiet)
    judge = ag.Judge([ag.MetricSpec("label", bad="lower", tolerance=0.01, effect="mean"),
                      ag.MetricSpec("error", bad="higher", tolerance=0.01, critical=True,
                                    effect="mean")])
    result = ag.replay(rows, v13, v11, labels=labels, judge=judge, batch_size=ROWS,
                       clock=quiet)
    night.drill.emit("recover", f"replay of {result.rows} recorded sessions: recs-v13 vs "
                     f"recs-v11 verdict {result.verdict}", served=night.registry.champion,
                     verdict=result.verdict)


def _session(x: np.ndarray, user: int) -> int:
    """The canary's sticky key: the session, not the features."""
    del x
    return user


def _canary(night: Night, response: Response) -> None:
    """recs-v13 gets 10%, 50%, then 100% of sessions, judged at every step."""
    drill = night.drill
    judge = ag.Judge([ag.MetricSpec("latency", bad="higher", relative=0.25, critical=True),
                      ag.MetricSpec("error", bad="higher", tolerance=0.01, critical=True,
                                    effect="mean")])
    canary = ag.CanaryRouter(night.v11, night.v13, steps=(10, 50, 100),
                             key=_session, judge=judge, min_samples=30,
                             interval=300, registry=night.registry, version="recs-v13",
                             name="recs.canary", clock=night.clock)
    canary.add_listener(lambda e: drill.emit(
        "recover", f"canary {e.kind} at {e.step:g}%: {e.reason}",
        served=f"recs-v13 {canary.percent:g}% / {night.registry.champion}",
        canary=e.kind, step=e.step))
    night.route = canary
    drill.emit("recover", "canary: recs-v13 starts at 10% of sessions",
               served="recs-v11 90% / recs-v13 10%")
    for _ in range(12):
        if canary.status != "running":
            break
        night.serve(300, corrupt=False, label=f"canary {canary.percent:g}%", response=response)
    night.route = night.registry
    drill.emit("recover", f"registry champion: {night.registry.champion}",
               served=night.registry.champion)


def _impact(night: Night, incident: Any, fault: float) -> dict[str, Any]:
    return {
        **tally(night.counts, {
            "sessions scored": "sessions", "calls served by the model": "model",
            "calls served by popular_items": "fallback",
            "winter coats shown in Arizona": "coats_to_arizona"}),
        **timings(night.first_breach, fault, incident),
        "rolled back to": "recs-v11",
        "champion now": night.registry.champion,
    }
