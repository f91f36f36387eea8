"""``aiguard demo``: every scenario's phases, severities, actions, files, determinism, deps."""

from __future__ import annotations

import http.server
import io
import json
import os
import re
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

import pytest

import aiguard as ag
from aiguard._demo import _runner
from aiguard.cli import main

if TYPE_CHECKING:
    from pathlib import Path

SCENARIOS = ("recommender", "fraud", "chatbot-latency", "seasonal")


def run_json(capsys: pytest.CaptureFixture[str], scenario: str, out: Path,
             seed: int = 3) -> tuple[str, list[dict[str, Any]]]:
    """Run one scenario with --fast --json; return stdout and the parsed events."""
    code = main(["demo", "--scenario", scenario, "--seed", str(seed), "--fast", "--json",
                 "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    return text, [json.loads(line) for line in text.splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[dict[str, Any]]]]:
    """Each scenario run once (module scope: the runs take seconds)."""
    results = {}
    for scenario in SCENARIOS:
        out = tmp_path_factory.mktemp(scenario)
        buffer = io.StringIO()
        saved, sys.stdout = sys.stdout, buffer
        try:
            assert main(["demo", "--scenario", scenario, "--seed", "3", "--fast", "--json",
                         "--out", str(out)]) == 0
        finally:
            sys.stdout = saved
        results[scenario] = (out, [json.loads(line) for line in buffer.getvalue().splitlines()])
    return results


def actions(events: list[dict[str, Any]]) -> set[str]:
    """The policy actions applied, by kind (kill, rollback, page...)."""
    return {e["action"] for e in events if "action" in e and e.get("status") == "applied"}


def severities(events: list[dict[str, Any]]) -> set[str]:
    """Severities the incident was classified at."""
    return {e["severity"] for e in events if e["phase"] == "classify"}


def summary(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The last event: the impact and the files."""
    assert events[-1]["phase"] == "summary"
    return events[-1]


def test_recommender_shows_every_phase_of_the_3am_incident(runs: Any) -> None:
    """Drift and output monitors fire, Critical, kill switch, page, rollback, canary back."""
    _, events = runs["recommender"]
    phases = [e["phase"] for e in events]
    for phase in ("healthy", "fault", "detect", "classify", "contain", "escalate", "respond",
                  "recover", "review", "summary"):
        assert phase in phases
    assert phases.index("healthy") < phases.index("fault") < phases.index("detect") \
        < phases.index("contain") < phases.index("review") < phases.index("summary")
    kinds = {e["kind"] for e in events if e["phase"] == "detect" and e["status"] == "breach"}
    assert kinds == {"drift", "output"}
    classified = [e["severity"] for e in events if e["phase"] == "classify"]
    assert classified[-1] == "critical"  # drift alone is Medium; bizarre outputs: Critical
    assert set(classified) <= {"medium", "critical"}
    assert {"kill", "rollback", "page"} <= actions(events)
    paged = [e["what"] for e in events
             if e["phase"] == "escalate" and e["what"].startswith("paged")]
    assert paged[:2] == ["paged on-call (paged)", "paged leadership (critical)"]
    served = [e["served"] for e in events if e["served"]]
    assert "popular_items" in served
    assert any("recs-v11" in s for s in served)  # the rolled-back version served
    canary = [e["canary"] for e in events if "canary" in e]
    assert canary[-1] == "complete"
    assert any("agrees" in e["what"] for e in events)  # shadow
    assert [e["verdict"] for e in events if "verdict" in e] == ["pass"]  # replay
    impact = summary(events)["impact"]
    assert impact["champion now"] == "recs-v13"
    assert impact["rolled back to"] == "recs-v11"
    assert impact["severity"] == "critical"


def test_fraud_is_high_and_falls_back_to_rules(runs: Any) -> None:
    """40% flagged -> High, the breaker forced open, the rules engine serves, v7 restored."""
    _, events = runs["fraud"]
    assert severities(events) == {"high"}
    assert {"fallback", "page"} <= actions(events)
    assert "kill" not in actions(events)
    breach = next(e for e in events if e["phase"] == "detect" and e["status"] == "breach")
    assert breach["kind"] == "output"
    assert "rules_engine" in {e["served"] for e in events}
    impact = summary(events)["impact"]
    assert impact["champion now"] == "fraud-v7"
    assert impact["of them during the incident"] > 0


def test_chatbot_latency_is_high_sheds_and_stays_under_300_ms(runs: Any) -> None:
    """3 s generations -> High, fallback and shedding, users' p99 under 300 ms."""
    _, events = runs["chatbot-latency"]
    assert severities(events) == {"high"}
    assert {"fallback", "shed", "page"} <= actions(events)
    breach = next(e for e in events if e["phase"] == "detect" and e["status"] == "breach")
    assert breach["kind"] == "latency"
    impact = summary(events)["impact"]
    assert impact["p99 latency users saw (ms)"] < 300
    assert impact["max latency users saw (ms)"] <= 280.0 + 1e-6
    assert impact["of them after a timeout"] > 0
    assert impact["of them shed by the rate limit"] > 0
    final = summary(events)["counts"]
    assert final["answered_by_llm"] + final["canned"] == final["questions"] == impact["questions"]


def test_seasonal_is_medium_then_canary_and_automatic_rollback(runs: Any) -> None:
    """Drift -> Medium (notify only), a retrain canaried to 100%, a worse one rolled back."""
    _, events = runs["seasonal"]
    assert severities(events) == {"medium"}
    assert actions(events) == {"notify"}
    kinds = [e["canary"] for e in events if "canary" in e]
    assert "complete" in kinds
    assert kinds[-1] == "rollback"
    impact = summary(events)["impact"]
    assert (impact["first canary"], impact["second canary"]) == ("complete", "rolled_back")
    assert impact["champion now"] == "risk-spring"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_files_written_and_consistent_with_the_stream(runs: Any, scenario: str) -> None:
    """Postmortem (md with the timeline, json), incident log and drift report agree with events."""
    out, events = runs[scenario]
    last = summary(events)
    assert sorted(last["files"].values()) == sorted(
        ["postmortem.md", "postmortem.json", "incidents.jsonl", "drift.html"])
    markdown = (out / "postmortem.md").read_text()
    incident_id = next(e["incident"] for e in events if e.get("incident"))
    assert markdown.startswith(f"# Postmortem {incident_id}")
    assert "## Timeline (UTC)" in markdown
    assert "## Impact" in markdown
    data = json.loads((out / "postmortem.json").read_text())
    assert data["id"] == incident_id
    assert data["severity"] == last["impact"]["severity"]
    assert data["status"] == "resolved"
    contained = [e for e in events if e.get("status") == "contained"]
    if contained:  # detection to containment: the stream's times agree with the record
        opened = next(e for e in events if e["what"].endswith(" opened: " + data["title"]))
        assert data["impact"]["detection_to_containment"] == pytest.approx(
            contained[0]["sim_seconds"] - opened["sim_seconds"], abs=1.0)
    fallback = {"recommender": "fallback", "fraud": "rules_engine",
                "chatbot-latency": "canned"}.get(scenario)
    if fallback is not None:  # the fallback calls from the fault on are on the incident
        fault = next(e for e in events if e["phase"] == "fault")
        assert data["impact"]["fallback_calls"] == \
            last["counts"][fallback] - fault["counts"][fallback]
    with ag.IncidentLog(out / "incidents.jsonl", readonly=True) as log:
        assert log.get(incident_id).status is ag.Status.RESOLVED
    assert "<svg" in (out / "drift.html").read_text()


def test_same_seed_same_stream_other_seed_other_numbers(
        runs: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A second run with the fixture's seed prints the same JSON stream; another seed does not."""
    _, events = runs["fraud"]
    again, repeated = run_json(capsys, "fraud", tmp_path / "a")
    assert [without_out(e) for e in repeated] == [without_out(e) for e in events]
    other, _ = run_json(capsys, "fraud", tmp_path / "b", seed=4)
    assert other != again  # the seed drives the simulated traffic


class _Receiver(http.server.ThreadingHTTPServer):
    """Records the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[dict[str, Any]] = []
        self.daemon_threads = True


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.bodies.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_run_paces_draws_progress_and_posts_pages(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without --fast on a terminal: paced lines, a progress bar, pages to --webhook, ./ default."""
    receiver = _Receiver()
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    sleeps: list[float] = []
    monkeypatch.setattr(_runner.time, "sleep", sleeps.append)
    monkeypatch.chdir(tmp_path)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/pages"
        assert main(["demo", "--scenario", "fraud", "--webhook", url]) == 0
    finally:
        receiver.shutdown()
        receiver.server_close()
    text = terminal.getvalue()
    assert "] 1/600" in text  # the progress bar, redrawn with \r
    assert "\r" in text
    assert "impact:" in text
    assert "[HIGH]" in text
    timeline = re.findall(r"\d\d:\d\d:\d\d  [a-z]", text)  # the bar has one space
    assert sleeps.count(_runner.PACE) == len(timeline) > 10  # one pause per timeline line
    assert (tmp_path / "aiguard-demo-fraud" / "postmortem.md").exists()
    assert [b["target"] for b in receiver.bodies] == ["on-call"]
    assert receiver.bodies[0]["severity"] == "high"


def test_usage_errors_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown scenario is a usage error (2); --help exits 0 and lists the scenarios."""
    assert main(["demo", "--scenario", "nope"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main(["demo", "--help"]) == 0
    assert "chatbot-latency" in capsys.readouterr().out


def test_python_m_aiguard_cli_demo_in_a_subprocess(tmp_path: Path) -> None:
    """``python -m aiguard.cli demo --fast`` exits 0, prints the timeline, writes the files."""
    done = subprocess.run(
        [sys.executable, "-m", "aiguard.cli", "demo", "--fast", "--scenario", "fraud",
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, check=False, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert "[HIGH]" in done.stdout
    assert "impact:" in done.stdout
    assert (tmp_path / "out" / "drift.html").exists()
    assert "\r" not in done.stdout  # not a terminal: no progress bar


BLOCKER = """
import importlib.abc, io, json, sys
DEV = {"pandas", "sklearn", "pytest", "hypothesis", "fairlearn", "river", "pyarrow",
       "redis", "prometheus_client", "opentelemetry", "openfeature"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in DEV:
            raise ImportError("dev-only package imported: " + name)
sys.meta_path.insert(0, Block())
from aiguard.cli import main
out, scenarios = sys.argv[1], sys.argv[2:]
streams = {}
for scenario in scenarios:
    saved, sys.stdout = sys.stdout, io.StringIO()
    try:
        code = main(["demo", "--fast", "--json", "--seed", "3", "--scenario", scenario,
                     "--out", out + "/" + scenario])
        streams[scenario] = sys.stdout.getvalue()
    finally:
        sys.stdout = saved
    assert code == 0, scenario
assert not DEV & {m.split(".")[0] for m in sys.modules}, "a dev-only package was imported"
print(json.dumps(streams))
"""


def test_the_demo_imports_only_runtime_dependencies_and_repeats_across_processes(
        runs: Any, tmp_path: Path) -> None:
    """In a fresh interpreter with pandas, sklearn, pytest... unimportable, every scenario runs
    and prints the same event stream as the in-process run with the same seed."""
    done = subprocess.run(
        [sys.executable, "-c", BLOCKER, str(tmp_path), *SCENARIOS],
        capture_output=True, text=True, timeout=300, check=False, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    streams = json.loads(done.stdout)
    for scenario in SCENARIOS:
        events = [json.loads(line) for line in streams[scenario].splitlines()]
        assert events[-1]["phase"] == "summary"
        _, expected = runs[scenario]
        assert [without_out(e) for e in events] == [without_out(e) for e in expected]


def without_out(event: dict[str, Any]) -> dict[str, Any]:
    """The event without the output folder (each run writes to its own)."""
    return {k: v for k, v in event.items() if k != "out"}
