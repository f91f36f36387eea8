"""``aiguard flags``: the 3 AM operator flow, exit codes, tables and JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

import aiguard as ag
from aiguard.cli import main as aiguard_main
from aiguard.contain.flags._cli import main, open_store

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"file:{tmp_path / 'flags.json'}"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_three_am_flow_reaches_a_running_flag_set(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """off, on, set and history through the CLI drive a live Flags set on the same file."""
    app = ag.Flags(ag.FileStore(store[5:]), refresh=None, declare={"recs.personalized": True})
    code, out, _ = run(capsys, "off", "recs.personalized", "--store", store,
                       "--reason", "drift INC-42", "--actor", "ana")  # declared: no --create
    assert code == 0
    assert out.splitlines()[0] == "recs.personalized: off (was on) by ana: drift INC-42"
    app.refresh()
    assert app.enabled("recs.personalized") is False
    assert app.get("recs.personalized").reason == "drift INC-42"
    assert run(capsys, "on", "recs.personalized", "--store", store, "--actor", "bo")[0] == 0
    assert run(capsys, "set", "recs.personalized", "--percent", "25", "--store", store)[0] == 0
    app.refresh()
    assert app.get("recs.personalized").percent == 25.0
    code, out, _ = run(capsys, "history", "recs.personalized", "--store", store, "--json")
    history = json.loads(out)
    assert [(h["on"], h["percent"], h["actor"]) for h in history][1:3] == [
        (False, None, "ana"), (True, None, "bo"),
    ]
    assert history[0]["reason"] == "declared in code (default on)"
    assert history[3]["percent"] == 25.0


def test_list_prints_a_table_and_json(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    """list prints one row per flag (sorted), or the records as JSON."""
    flags = ag.Flags(ag.FileStore(store[5:]), refresh=None, wall_clock=lambda: 0.0)
    flags.set("b.model", on=True, percent=12.5, actor="ana", reason="canary")
    flags.set("a.model", on=False, actor="bo")
    code, out, _ = run(capsys, "list", "--store", store)
    assert code == 0
    assert out.splitlines() == [
        "FLAG     STATE     UPDATED (UTC)         ACTOR  REASON",
        "a.model  off       1970-01-01 00:00:00Z  bo     -",
        "b.model  on 12.5%  1970-01-01 00:00:00Z  ana    canary",
    ]
    code, out, _ = run(capsys, "--store", store, "--json", "list")
    doc = json.loads(out)
    assert [f["name"] for f in doc["flags"]] == ["a.model", "b.model"]
    assert doc["invalid"] == {}


def test_list_shows_invalid_records_and_the_global_shutdown(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Invalid records are listed as INVALID; a global shutdown is announced first."""
    file_store = ag.FileStore(store[5:])
    file_store.write("broken", {"on": "yes"})
    assert run(capsys, "shutdown", "--store", store, "--reason", "INC-7", "--actor", "ana")[0] == 0
    code, out, _ = run(capsys, "list", "--store", store)
    lines = out.splitlines()
    assert lines[0].startswith("GLOBAL SHUTDOWN: every AI feature is off (aiguard.all, ana,")
    assert any(line.startswith("broken") and "INVALID" in line for line in lines)
    code, _, err = run(capsys, "get", "broken", "--store", store)
    assert code == 4
    assert "invalid record" in err
    code, out, _ = run(capsys, "restore", "--store", store, "--actor", "ana")
    assert out.startswith("aiguard.all: on (was off) by ana")


def test_get_prints_one_flag(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    """get prints the flag's row, or its record as JSON; the global switch is always known."""
    run(capsys, "off", "recs", "--store", store, "--create", "--actor", "ana")
    code, out, _ = run(capsys, "get", "recs", "--store", store, "--json")
    assert (code, json.loads(out)["on"], json.loads(out)["actor"]) == (0, False, "ana")
    code, out, _ = run(capsys, "get", "aiguard.all", "--store", store)
    assert code == 0
    assert out.splitlines()[1].split()[:2] == ["aiguard.all", "on"]


def test_unknown_flags_exit_3_with_a_suggestion(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo is refused (exit 3) with the closest names, and nothing is created."""
    run(capsys, "on", "recs.personalized", "--store", store, "--create")
    for command in ("get", "off", "history"):
        code, _, err = run(capsys, command, "recs.personalised", "--store", store)
        assert code == 3
        assert "did you mean 'recs.personalized'" in err
    assert list(ag.FileStore(store[5:]).read_all()) == ["recs.personalized"]


@pytest.mark.parametrize(
    "argv",
    [
        ["off", "Bad!", "--store", "memory"],
        ["set", "x", "--percent", "140", "--store", "memory", "--create"],
        ["set", "x", "--percent", "lots", "--store", "memory", "--create"],
        ["set", "x", "--store", "memory"],
        ["list", "--store", "ftp://x"],
        ["bogus"],
        [],
    ],
)
def test_bad_input_exits_2_without_traceback(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Invalid names, percentages, stores and commands: exit 2, a message, no traceback."""
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert "aiguard flags" in err
    assert "Traceback" not in err


def test_missing_store_exits_2_unless_the_environment_names_one(
    store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No --store and no $AIGUARD_FLAGS_STORE: exit 2 (no silent in-memory default)."""
    monkeypatch.delenv("AIGUARD_FLAGS_STORE", raising=False)
    code, _, err = run(capsys, "list")
    assert code == 2
    assert "no store" in err
    monkeypatch.setenv("AIGUARD_FLAGS_STORE", store)
    assert run(capsys, "list")[0] == 0


def test_unreadable_or_unwritable_stores_exit_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A corrupt file, an unreachable Redis or an unwritable store: exit 4, one clear line."""
    path = tmp_path / "flags.json"
    path.write_text("{half")
    code, out, err = run(capsys, "list", "--store", f"file:{path}")
    assert (code, out) == (4, "")
    assert err.count("\n") == 1
    assert "not valid JSON" in err
    code, _, err = run(capsys, "list", "--store", "redis://127.0.0.1:1/0")
    assert code == 4
    assert "could not read" in err
    missing = tmp_path / "no-such-dir" / "flags.json"
    code, _, err = run(capsys, "off", "a", "--store", f"file:{missing}", "--create")
    assert code == 4
    assert "cannot write" in err


def test_history_of_a_store_without_history_exits_4(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that keeps no history says so (exit 4)."""
    monkeypatch.setattr(
        "aiguard.contain.flags._cli.open_store",
        lambda spec, namespace: ag.EnvStore(environ={"AIGUARD_FLAG_A": "on"}),
    )
    code, _, err = run(capsys, "history", "a", "--store", "memory")
    assert code == 4
    assert "keeps no history" in err


def test_history_output_table_and_empty(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    """history prints a table; a known flag with no history says so."""
    run(capsys, "off", "a", "--store", store, "--create", "--actor", "ana")
    code, out, _ = run(capsys, "history", "a", "--store", store)
    assert code == 0
    assert out.splitlines()[1].split()[:2] == ["a", "off"]
    code, out, _ = run(capsys, "history", "aiguard.all", "--store", store)
    assert (code, out) == (0, "aiguard.all: no history\n")


def test_change_as_json_and_default_actor(
    store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--json on a change prints before and after; the actor defaults to $USER@hostname."""
    monkeypatch.setenv("USER", "nightshift")
    run(capsys, "on", "a", "--store", store, "--create")
    out = run(capsys, "off", "a", "--store", store, "--json")[1]
    doc = json.loads(out)
    assert (doc["before"]["on"], doc["after"]["on"]) == (True, False)
    assert doc["after"]["actor"].startswith("nightshift@")
    monkeypatch.delenv("USER")
    run(capsys, "on", "a", "--store", store)
    assert "@" in ag.FileStore(store[5:]).read_all()["a"]["actor"]


def test_empty_store_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    """An empty store says so; --help exits 0."""
    assert run(capsys, "list", "--store", "memory")[1] == "no flags in MemoryStore(<0 flags>)\n"
    assert run(capsys, "--help")[0] == 0


def test_dispatched_from_the_aiguard_command(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`aiguard flags ...` reaches this CLI."""
    assert aiguard_main(["flags", "list", "--store", store]) == 0
    assert "no flags" in capsys.readouterr().out


def test_open_store_knows_redis_urls() -> None:
    """A redis:// URL opens a RedisStore with the namespace given."""
    store = open_store("redis://127.0.0.1:1/0", namespace="shop")
    assert repr(store) == "RedisStore('redis://127.0.0.1:1/0', namespace='shop')"


@pytest.mark.parametrize(
    ("percent", "shown"),
    [(0.1 + 0.2, "on 0.3%"), (4.360000000000003, "on 4.36%"), (100 / 3, "on 33.333%"),
     (12.5, "on 12.5%"), (0.0004, "on 0.0004%"), (0.0, "off")],
)
def test_shares_are_printed_for_people(
    store: str, capsys: pytest.CaptureFixture[str], percent: float, shown: str
) -> None:
    """A rollout share prints without float noise in the table."""
    ag.Flags(ag.FileStore(store[5:]), refresh=None).set("recs", on=percent > 0, percent=percent)
    code, out, _ = run(capsys, "get", "recs", "--store", store)
    assert code == 0
    assert out.splitlines()[1].split("  ")[1].strip() == shown
