"""Every ``aiguard`` command whose reader closes the pipe ends quietly (141), no traceback."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import numpy as np
import pytest

from aiguard._core import _cli
from aiguard.cli import main

if TYPE_CHECKING:
    from pathlib import Path


def test_main_guarded_turns_a_closed_pipe_into_141(capsys: pytest.CaptureFixture[str]) -> None:
    """A BrokenPipeError from the command gives 141; a normal run keeps its code."""

    def closed(argv: list[str]) -> int:
        print("partial")
        raise BrokenPipeError(32, "Broken pipe")

    assert _cli.main_guarded(closed, []) == _cli.CLOSED_PIPE == 141
    assert _cli.main_guarded(len, ["a", "b"]) == 2
    capsys.readouterr()  # stdout is not a file here: silencing it is skipped, not a crash


def test_after_a_closed_pipe_stdout_points_at_the_null_device(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """stdout's file descriptor is pointed at os.devnull: the final flush has nowhere to fail."""
    with (tmp_path / "stdout").open("w") as stdout:
        monkeypatch.setattr(sys, "stdout", stdout)

        def closed(argv: list[str]) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        assert _cli.main_guarded(closed, []) == 141
        stdout.write("after the reader left")
        stdout.flush()
    assert (tmp_path / "stdout").read_text() == ""  # what came after went to the null device


class _ClosedPipe(io.StringIO):
    """A stdout whose reader is gone: every write raises BrokenPipeError."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def _files(tmp_path: Path) -> dict[str, str]:
    """A flag file, an incident log and two drift CSVs for the commands to read."""
    flags = tmp_path / "flags.json"
    assert main(["flags", "off", "recs", "--store", f"file:{flags}", "--create",
                 "--reason", "drill", "--actor", "ana"]) == 0
    log = tmp_path / "incidents.jsonl"
    log.write_text("")
    rng = np.random.default_rng(0)
    for name, shift in (("ref", 0.0), ("cur", 1.0)):
        rows = rng.normal(shift, 1.0, size=(200, 2))
        np.savetxt(tmp_path / f"{name}.csv", rows, delimiter=",", header="a,b", comments="")
    return {"flags": str(flags), "log": str(log), "ref": str(tmp_path / "ref.csv"),
            "cur": str(tmp_path / "cur.csv"), "out": str(tmp_path / "demo")}


COMMANDS = {
    "demo": ["demo", "--fast", "--json", "--scenario", "fraud", "--out", "{out}"],
    "flags": ["flags", "list", "--store", "file:{flags}"],
    "incidents": ["incidents", "list", "--all", "--log", "{log}"],
    "models": ["models", "list", "--store", "memory"],
    "drift": ["drift", "{ref}", "{cur}"],
}


@pytest.mark.parametrize("command", sorted(set(COMMANDS) - {"demo"}))  # demo: seconds, below
def test_a_broken_pipe_inside_a_sub_command_is_caught_at_the_top(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    command: str,
) -> None:
    """aiguard.cli.main wraps every sub-command: its first write to a closed pipe -> 141."""
    files = _files(tmp_path)
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main([part.format(**files) for part in COMMANDS[command]]) == 141
    assert capsys.readouterr().err == ""


@pytest.mark.slow  # one interpreter per command (a second or more each)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_real_closed_pipe_ends_the_command_quietly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """``aiguard CMD | (reader gone)``: exit 141, nothing on stderr, no traceback."""
    files = _files(tmp_path)
    capsys.readouterr()
    args = [part.format(**files) for part in COMMANDS[command]]
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the command writes: every write is EPIPE
    try:
        done = subprocess.run([sys.executable, "-m", "aiguard.cli", *args], stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=120, check=False,
                              env=dict(os.environ))
    finally:
        os.close(write)
    assert done.stderr == ""
    assert done.returncode == 141
