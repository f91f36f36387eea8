"""The chatbot whose LLM slows from 200 ms to 3 s.

The guarded ``async`` endpoint runs on an event loop whose time is the drill's
fake clock (the selector jumps the clock to the next timer instead of
sleeping), so the library's real ``asyncio`` timeout cancels 3-second
generations at 280 ms of *simulated* time, and a simulated hour takes well
under a second. The LLM server's own latency metric feeds a
``LatencyMonitor``; the default policy calls a 15x spike High: the fallback
(a canned answer) is forced, the rate limit sheds to a trickle, on-call is
paged. What users get back stays under 300 ms at the 99th percentile.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import TYPE_CHECKING, Any

import numpy as np

import aiguard as ag
from aiguard import drift
from aiguard._demo._runner import (
    START,
    Drill,
    Response,
    contained,
    finish,
    hand_over,
    respond,
    review,
    timings,
    write_files,
)
from aiguard.detect import LatencyMonitor

if TYPE_CHECKING:
    from aiguard.testing import FakeClock

PER_SECOND = 20  # questions a simulated second
DEADLINE = 0.28  # the product's latency budget, seconds
FAULT_AT = 10 * 60
CANNED = "I'm having trouble right now; here is our help page."


class _JumpingSelector(selectors.SelectSelector):
    """Nothing to read: jump the fake clock to the next timer instead of waiting for it."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(0)
        if not ready and timeout:
            # at least a microsecond: the clock holds Unix seconds, whose float steps
            # (about 0.2 us) could otherwise leave it just short of the timer forever
            self._clock.advance(max(timeout, 1e-6))
        return ready


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop whose ``time()`` is the fake clock (seconds since the drill started)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(_JumpingSelector(clock))
        self._fake = clock

    def time(self) -> float:
        """Seconds on the fake clock (offset so that float steps stay exact enough)."""
        return self._fake() - START


def canned_answer(question: str) -> str:
    """The fallback: an apology and the help page."""
    del question
    return CANNED


class Chat:
    """The chatbot: backend, guard, monitor and what users got back."""

    def __init__(self, drill: Drill) -> None:
        self.drill, self.clock = drill, drill.clock
        self.rng = np.random.default_rng(drill.options.seed)
        self.slow = False
        self.monitor = LatencyMonitor(window=60, slices=60, clock=self.clock)
        self.monitor.name = "chatbot.llm_latency"
        self.signals: list[ag.Signal] = []
        self.monitor.subscribe(self.signals.append)
        self.breaker = ag.CircuitBreaker(name="chatbot", clock=self.clock)
        self.limit = ag.RateLimit(40, per=1.0, clock=self.clock)
        self.guard = ag.Guard(name="chatbot", rate_limit=self.limit, breaker=self.breaker,
                              timeout=DEADLINE, fallback=canned_answer, clock=self.clock)
        self.answer = self.guard(self._generate)
        self.counts = drill.counts
        self.counts |= {"questions": 0, "answered_by_llm": 0, "canned": 0, "timeouts": 0,
                        "shed": 0}
        self.user_latency: list[float] = []
        self.backend: dict[str, list[float]] = {"healthy": [], "incident": []}
        self.first_breach = float("inf")

    async def _generate(self, question: str) -> str:
        """The LLM server: about 200 ms, or about 3 s once it is overloaded."""
        shape = 16.0 if self.slow else 100.0  # healthy: 200 ms, sd 20 ms; slow: 3 s, sd 0.75 s
        seconds = float(self.rng.gamma(shape, (3.0 if self.slow else 0.2) / shape))
        self.monitor.observe(seconds)  # the server's own latency metric
        self.backend["incident" if self.slow else "healthy"].append(seconds)
        await asyncio.sleep(seconds)
        return f"answer to {question}"

    async def _ask(self, question: str, after: float) -> None:
        await asyncio.sleep(after)  # questions arrive spread over the second
        await self.answer(question)
        outcome = self.guard.last_outcome
        assert outcome is not None
        self.user_latency.append(outcome.latency)
        self.counts["questions"] += 1
        if outcome.served_by == "model":
            self.counts["answered_by_llm"] += 1
        else:
            self.counts["canned"] += 1
            self.counts["timeouts"] += outcome.reason == "timeout"
            self.counts["shed"] += outcome.reason == "rate_limited"

    async def serve(self, seconds: int, label: str, response: Response) -> None:
        """``PER_SECOND`` questions each simulated second, evenly spread, answered concurrently."""
        for i in range(seconds):
            start = self.clock()
            await asyncio.gather(*(self._ask(f"q{i}.{k}", k / PER_SECOND)
                                   for k in range(PER_SECOND)))
            if self.signals:
                served = "llm" if self.breaker.state.value == "closed" else "canned_answer"
                self.first_breach = min(self.first_breach, hand_over(
                    self.drill, response, self.signals, served))
            self.clock.advance(max(0.0, start + 1.0 - self.clock()))
            if i % 30 == 0:
                self.drill.progress(i + 1, seconds, label)


def run(drill: Drill) -> None:
    """Run the night on the virtual-time loop."""
    loop = VirtualLoop(drill.clock)
    try:
        loop.run_until_complete(_night(drill))
    finally:
        loop.close()


async def _night(drill: Drill) -> None:
    chat = Chat(drill)
    response = respond(drill, lambda escalation: ag.Policy.default(
        guard=chat.guard, rate_limit=chat.limit, shed_to=2, escalation=escalation))
    incidents = response.incidents
    incidents.watch_guard(chat.guard)
    incidents.watch_breaker(chat.breaker)
    try:
        drill.emit("healthy", f"the support chatbot answers {PER_SECOND} questions a second in "
                   f"about 200 ms; timeout {DEADLINE * 1000:.0f} ms, canned answer as fallback",
                   served="llm")
        await chat.serve(FAULT_AT, "healthy traffic", response)
        chat.slow = True
        fault = drill.clock()
        drill.emit("fault", "the LLM server is overloaded: generations take about 3 s",
                   served="llm")
        incident_id = None
        for _ in range(600):  # the policy contains within seconds (an async serve_until_contained)
            await chat.serve(1, "slow LLM", response)
            incident_id = contained(response)
            if incident_id is not None:
                break
        assert incident_id is not None
        drill.emit("contain", "every question now gets the canned answer at once",
                   served="canned_answer")
        await chat.serve(300, "canned answers", response)
        incidents.ack(incident_id, actor="ana")
        drill.emit("respond", "ana (on call) acknowledged", served="canned_answer",
                   incident=incident_id)
        await chat.serve(15 * 60, "canned answers", response)
        await _recover(chat, response, incident_id)
        incident = review(
            response, incident_id,
            root_cause="a marketing push tripled the questions; the LLM server queued them "
                       "and generations took 3 s",
            actions=[("autoscale the LLM server on queue depth", "li")])
        report = drift.Reference(np.array(chat.backend["healthy"])[:, None], feature_names=[
            "llm_latency_s"]).compare(np.array(chat.backend["incident"])[:, None],
                                      methods=("ks", "psi"))
        files = write_files(drill, incident, report)
        finish(drill, _impact(chat, incident, fault), files)
    finally:
        response.close()


async def _recover(chat: Chat, response: Response, incident_id: str) -> None:
    chat.slow = False
    chat.breaker.reset()
    chat.limit.set_rate(40)
    response.incidents.set_status(incident_id, "mitigated", actor="li",
                                  reason="LLM server scaled out; breaker reset, rate restored")
    chat.drill.emit("recover", "li scaled the LLM server out, reset the breaker and restored "
                    "the rate to 40/s", served="llm", incident=incident_id)
    await chat.serve(10 * 60, "healthy again", response)


def _impact(chat: Chat, incident: Any, fault: float) -> dict[str, Any]:
    counts = chat.counts
    latency = np.array(chat.user_latency)
    return {
        "questions": counts["questions"],
        "answered by the LLM": counts["answered_by_llm"],
        "canned answers": counts["canned"],
        "of them after a timeout": counts["timeouts"],
        "of them shed by the rate limit": counts["shed"],
        "p99 latency users saw (ms)": round(float(np.quantile(latency, 0.99)) * 1000, 1),
        "max latency users saw (ms)": round(float(latency.max()) * 1000, 1),
        **timings(chat.first_breach, fault, incident),
    }
