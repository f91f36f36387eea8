"""`aiguard models`: list, history, promote, rollback against a file store; exit codes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

import aiguard as ag
from aiguard.cli import main as aiguard_main
from aiguard.recover._cli import main

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def spec(tmp_path: Path) -> str:
    """A file store holding registry 'recs' with v1 then v2 promoted."""
    path = tmp_path / "models.json"
    registry = ag.ModelRegistry("recs", store=ag.FileStore(path), refresh=None)
    for version in ("v1", "v2", "v3"):
        registry.register(version, lambda _x, v=version: v)
    registry.promote("v2", reason="retrained", actor="ana")
    return f"file:{path}"


def test_list_and_history(spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    """list shows the champion; history shows every change, as a table and as JSON."""
    assert main(["list", "--store", spec]) == 0
    out = capsys.readouterr().out
    assert "recs   v2        promote" in out
    assert main(["list", "--store", spec, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["version"], r["known_good"]) for r in listed] == [("recs", "v2", ["v1"])]
    assert main(["history", "recs", "--store", spec]) == 0
    assert "v2       v1        promote" in capsys.readouterr().out
    assert main(["history", "recs", "--store", spec, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["actor"] == "ana"


def test_rollback_then_replica_follows(spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI rollback goes to the last known good; a registry on the store adopts it."""
    code = main(["rollback", "recs", "--store", spec, "--reason", "INC-3", "--actor", "bob"])
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("recs: rollback to v1 (was v2) by bob: INC-3")
    replica = ag.ModelRegistry("recs", store=ag.FileStore(spec[5:]), refresh=None)
    replica.register("v1", lambda _x: "v1")
    replica.register("v2", lambda _x: "v2")
    assert replica.refresh() == "v1"
    assert main(["rollback", "recs", "--store", spec, "--reason", "again"]) == 2
    assert "no known good version" in capsys.readouterr().err


def test_promote_and_rollback_to(spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    """promote NAME VERSION and rollback --to V write what they say, JSON before/after."""
    assert main(["promote", "recs", "v3", "--store", spec, "--reason", "r", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["before"]["version"], doc["after"]["version"]) == ("v2", "v3")
    assert main(["rollback", "recs", "--to", "v1", "--store", spec, "--reason", "r"]) == 0
    assert "rollback to v1 (was v3)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["history", "nope"], 3, "unknown model registry 'nope'"),
        (["rollback", "recs"], 2, "--reason"),
        (["promote", "recs", "v2", "--reason", "r"], 2, "other than the champion"),
        (["promote", "recs", "x" * 200, "--reason", "r"], 2, "128 characters"),
        (["explode"], 2, "invalid choice"),
    ],
)
def test_errors_are_one_line_with_exit_codes(
    spec: str, capsys: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    """Bad input: the documented exit code and a message, no traceback."""
    assert main([*argv, "--store", spec]) == code
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_store_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                        monkeypatch: pytest.MonkeyPatch) -> None:
    """No store, a bad spec, an unreadable file and a read-only store exit 2 or 4."""
    monkeypatch.delenv("AIGUARD_MODELS_STORE", raising=False)
    monkeypatch.delenv("AIGUARD_FLAGS_STORE", raising=False)
    assert main(["list"]) == 2
    assert "no store" in capsys.readouterr().err
    assert main(["list", "--store", "ftp://x"]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert main(["list", "--store", f"file:{bad}"]) == 4
    assert main(["list", "--store", "redis://127.0.0.1:1/0"]) == 4
    monkeypatch.setenv("AIGUARD_MODELS_STORE", "memory")
    assert main(["list"]) == 0
    assert "no model registries" in capsys.readouterr().out


def test_write_failure_exits_4(spec: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A store that cannot be written: exit 4, the champion unchanged."""
    def refuse(*_args: object) -> None:
        raise ag.StoreError("read-only")

    monkeypatch.setattr(ag.FileStore, "write", refuse)
    assert main(["rollback", "recs", "--store", spec, "--reason", "r"]) == 4
    assert "cannot write the champion" in capsys.readouterr().err


def test_history_failure_and_empty(spec: str, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """An unreadable history exits 4; a store without history prints 'no history'."""
    def refuse(*_args: object) -> None:
        raise ag.StoreError("gone")

    monkeypatch.setattr(ag.FileStore, "history", refuse)
    assert main(["history", "recs", "--store", spec]) == 4
    monkeypatch.setattr(ag.FileStore, "history", lambda *_a: [])
    assert main(["history", "recs", "--store", spec]) == 0
    assert "recs: no history" in capsys.readouterr().out


def test_hooked_into_the_aiguard_command(spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`aiguard models ...` dispatches here; `--help` exits 0."""
    assert aiguard_main(["models", "list", "--store", spec]) == 0
    assert "recs" in capsys.readouterr().out
    assert aiguard_main(["models", "--help"]) == 0


def test_history_of_a_change_without_time(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A record written without updated_at shows '-' as its time."""
    store = ag.FileStore(tmp_path / "m.json")
    store.write("models.recs", {"on": True, "kind": "aiguard.model/1", "version": "v1",
                                "action": "promote"})
    assert main(["list", "--store", f"file:{tmp_path / 'm.json'}"]) == 0
    assert "recs   v1        promote  -" in capsys.readouterr().out
