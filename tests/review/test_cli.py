"""``aiguard incidents``: every sub-command, exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import aiguard as ag
from aiguard.cli import main as aiguard_main
from aiguard.review import Incident, IncidentLog
from aiguard.review._cli import main

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_700_000_000.0


@pytest.fixture
def log_path(tmp_path: Path) -> str:
    path = tmp_path / "incidents.jsonl"
    with IncidentLog(path) as log:
        log.open(Incident.open_record(id="INC-1", title="bad outputs on recs", key="recs",
                                      type="data_quality", severity=ag.Severity.HIGH, at=T0,
                                      actor="aiguard", affected={"guard": "recs"}, tags=(),
                                      respond_within=None))
        log.open(Incident.open_record(id="INC-2", title="drift on search", key="search",
                                      type="data_drift", severity=ag.Severity.MEDIUM,
                                      at=T0 + 5, actor="aiguard", affected=None, tags=(),
                                      respond_within=None))
        log.change("INC-2", "status", actor="li", at=T0 + 50, status="resolved")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_open_incidents_and_all(log_path: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """list: open ones; --all: every one; --json: JSON."""
    code, out, _ = run(capsys, "list", "--log", log_path)
    assert code == 0
    assert out.splitlines() == [
        "INC-1         high     detected     2023-11-14T22:13:20Z  bad outputs on recs"]
    _, out, _ = run(capsys, "list", "--all", "--log", log_path, "--json")
    assert [i["id"] for i in json.loads(out)] == ["INC-1", "INC-2"]


def test_the_operator_flow_changes_the_log(log_path: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """ack, assign, status and resolve by an actor with reasons land in the log."""
    assert run(capsys, "ack", "INC-1", "--log", log_path, "--actor", "ana")[0] == 0
    assert run(capsys, "assign", "INC-1", "commander", "ana", "--log", log_path,
               "--actor", "ana")[0] == 0
    code, out, _ = run(capsys, "status", "INC-1", "mitigated", "--log", log_path, "--actor",
                       "li", "--reason", "rolled back to v41")
    assert code == 0
    assert "mitigated" in out
    code, out, _ = run(capsys, "resolve", "INC-1", "--log", log_path, "--actor", "ana",
                       "--root-cause", "region feature corrupted", "--json")
    assert json.loads(out)["status"] == "resolved"
    with IncidentLog(log_path, readonly=True) as log:
        inc = log.get("INC-1")
    assert inc.roles["commander"] == "ana"
    assert inc.fields["root_cause"] == "region feature corrupted"
    assert [(e.actor, e.why) for e in inc.timeline if e.kind == "status"][-2:] == [
        ("li", "rolled back to v41"), ("ana", None)]


def test_show_and_postmortem(log_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    """show prints the timeline; postmortem prints Markdown or JSON."""
    code, out, _ = run(capsys, "show", "INC-1", "--log", log_path)
    assert code == 0
    assert "detected: bad outputs on recs (high)" in out
    _, out, _ = run(capsys, "show", "INC-1", "--log", log_path, "--json")
    assert json.loads(out)["id"] == "INC-1"
    _, out, _ = run(capsys, "postmortem", "INC-1", "--log", log_path)
    assert out.startswith("# Postmortem INC-1: bad outputs on recs")
    _, out, _ = run(capsys, "postmortem", "INC-1", "--log", log_path, "--format", "json")
    assert json.loads(out)["impact"]["fallback_calls"] == 0


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["show", "INC-404"], 3, "unknown incident 'INC-404'"),
    (["ack", "INC-404"], 3, "unknown incident"),
    (["status", "INC-2", "contained"], 2, "status must be a status after 'resolved'"),
    (["assign", "INC-1", "janitor", "bo"], 2, "invalid choice"),
    (["frobnicate"], 2, "invalid choice"),
])
def test_errors_are_one_line_with_exit_codes(log_path: str, capsys: pytest.CaptureFixture[str],
                                             argv: list[str], code: int, message: str) -> None:
    """Unknown incident 3, bad input 2; one message on stderr, no traceback."""
    got, _, err = run(capsys, *argv, "--log", log_path)
    assert got == code
    assert message in err
    assert "Traceback" not in err
    assert err.startswith("aiguard incidents:")


def test_missing_log_and_no_log(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A log that does not exist is exit 4 for readers; no --log at all is exit 2."""
    monkeypatch.delenv("AIGUARD_INCIDENT_LOG", raising=False)
    code, _, err = run(capsys, "list", "--log", str(tmp_path / "nope.jsonl"))
    assert (code, "no incident log" in err) == (4, True)
    code, _, err = run(capsys, "list")
    assert (code, "no log" in err) == (2, True)
    monkeypatch.setenv("AIGUARD_INCIDENT_LOG", str(tmp_path / "env.jsonl"))
    code, _, _ = run(capsys, "ack", "INC-1")  # created empty, then unknown
    assert code == 3
    code, _, err = run(capsys, "ack", "INC-1", "--log", str(tmp_path / "no-dir" / "x.jsonl"))
    assert code == 4
    assert "cannot open the incident log" in err
    assert run(capsys, "--help")[0] == 0


def test_redis_url_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """An unreachable Redis is exit 4; a malformed URL exit 2."""
    code, _, err = run(capsys, "list", "--store", "redis://127.0.0.1:1/0")
    assert code == 4
    assert "Traceback" not in err
    code, _, _ = run(capsys, "list", "--store", "http://x")
    assert code == 2


def test_through_the_aiguard_command_in_a_subprocess(log_path: str) -> None:
    """`python -m aiguard.cli incidents list` works end to end."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-m", "aiguard.cli", "incidents", "list", "--log",
                           log_path], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0
    assert done.stdout.startswith("INC-1 ")
    assert aiguard_main(["incidents", "show", "INC-1", "--log", log_path]) == 0
