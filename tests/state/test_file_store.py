"""FileStore: the store contract, atomic writes, polling, corrupt files, two writer processes."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.state.store_contract import StoreContract

if TYPE_CHECKING:
    from pathlib import Path

from aiguard import FileStore, Flags
from aiguard.errors import ConfigurationError, InvalidInputError, StoreError
from aiguard.state._records import parse_record


class TestFileStoreContract(StoreContract):
    @pytest.fixture
    def make_store(self, tmp_path: Path):
        return lambda: FileStore(tmp_path / "flags.json")

    def corrupt(self, store: FileStore, name: str) -> None:
        doc = json.loads(store.path.read_text())
        doc["flags"][name] = "not a record"
        store.path.write_text(json.dumps(doc))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "flags.json"


def test_file_layout_is_documented_json(path: Path) -> None:
    """The file holds format, flags and history as documented."""
    FileStore(path).write("a", {"on": False})
    doc = json.loads(path.read_text())
    assert doc == {"format": "aiguard.flags/1", "flags": {"a": {"on": False}},
                   "history": {"a": [{"on": False}]}}


def test_writes_leave_no_temporary_files(path: Path) -> None:
    """After writes, the directory holds only the file and its lock file."""
    store = FileStore(path)
    for i in range(3):
        store.write("a", {"on": True, "n": i})
    assert sorted(p.name for p in path.parent.iterdir()) == ["flags.json", "flags.json.lock"]


def test_write_keeps_the_file_mode(path: Path) -> None:
    """An operator's chosen file mode survives the atomic replace."""
    store = FileStore(path)
    store.write("a", {"on": True})
    path.chmod(0o640)
    store.write("a", {"on": False})
    assert path.stat().st_mode & 0o777 == 0o640


def test_history_is_bounded(path: Path) -> None:
    """Only the last history_limit records of a flag are kept in the file."""
    store = FileStore(path, history_limit=2)
    for i in range(4):
        store.write("a", {"on": True, "n": i})
    assert [r["n"] for r in store.history("a")] == [2, 3]


def test_history_of_missing_file_is_empty(path: Path) -> None:
    """No file yet: no history."""
    assert FileStore(path).history("a") == []


def test_history_skips_garbage_entries(path: Path) -> None:
    """History entries that are not objects are skipped; a non-list history reads empty."""
    path.write_text(json.dumps({"flags": {}, "history": {"a": [{"on": True}, 3], "b": "x"}}))
    store = FileStore(path)
    assert store.history("a") == [{"on": True}]
    assert store.history("b") == []
    path.write_text(json.dumps({"flags": {}, "history": []}))
    assert store.history("a") == []


def test_hand_edit_of_same_size_and_mtime_is_picked_up(path: Path) -> None:
    """Polling compares content, so an edit keeping size and mtime is still seen."""
    path.write_text('{"flags": {"a": {"on": true }}}')
    flags = Flags(FileStore(path), refresh=None)
    assert flags.enabled("a") is True
    stat = path.stat()
    path.write_text('{"flags": {"a": {"on": false}}}')
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    assert flags.refresh() is True
    assert flags.enabled("a") is False


@pytest.mark.parametrize(
    "content",
    [b"", b'{"flags": {"a": {"on": fal', b"\xff\xfe garbage", b"[1, 2]", b'{"flags": [1]}'],
    ids=["empty", "half-written", "binary", "array", "flags-not-object"],
)
def test_corrupt_file_keeps_last_good_values_and_goes_stale(
    path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """A corrupt or half-written file: StoreError, last good values in force, stale, logged once."""
    store = FileStore(path)
    store.write("a", {"on": False})
    flags = Flags(store, refresh=None, declare={"a": True})
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        assert flags.refresh() is False
        assert flags.refresh() is False
    assert flags.enabled("a") is False
    assert flags.stale is True
    assert flags.status.read_errors == 2
    assert store.errors == 2
    assert sum("flags.json" in r.getMessage() for r in caplog.records) == 2  # store, flags: once
    with pytest.raises(StoreError, match=r"not valid JSON|not an aiguard"):
        store.write("b", {"on": True})
    assert path.read_bytes() == content  # nothing lost: the bad file is left for a human
    path.unlink()
    store.write("b", {"on": True})
    assert flags.refresh() is True
    assert flags.stale is False


def test_unreadable_path_raises_store_error(tmp_path: Path) -> None:
    """A path that cannot be read (a directory) raises StoreError from read_all."""
    store = FileStore(tmp_path)
    with pytest.raises(StoreError, match="cannot be read"):
        store.read_all()


def test_missing_directory_write_raises_store_error(tmp_path: Path) -> None:
    """Writing into a directory that does not exist raises StoreError."""
    store = FileStore(tmp_path / "nope" / "flags.json")
    with pytest.raises(StoreError):
        store.write("a", {"on": True})


def test_deleted_file_reads_as_no_flags(path: Path) -> None:
    """A missing file reads as empty: declared defaults apply again."""
    store = FileStore(path)
    store.write("a", {"on": False})
    flags = Flags(store, refresh=None, declare={"a": True})
    assert flags.enabled("a") is False
    path.unlink()
    assert flags.refresh() is True
    assert flags.enabled("a") is True


@pytest.mark.parametrize("bad", ["", 3, None])
def test_path_is_validated(bad: object) -> None:
    """path must be a non-empty path."""
    with pytest.raises(ConfigurationError, match="path"):
        FileStore(bad)  # type: ignore[arg-type]


def test_repr_shows_path(path: Path) -> None:
    """The repr names the file."""
    assert repr(FileStore(path)) == f"FileStore({str(path)!r})"


def _hammer(path: str, worker: int, count: int) -> None:
    store = FileStore(path)
    for i in range(count):
        store.write(f"w{worker}.f{i}", {"on": i % 2 == 0, "worker": worker})
        store.write("shared", {"on": True, "worker": worker, "n": i})


def test_two_writer_processes_lose_no_update(path: Path) -> None:
    """Two processes writing at once: every flag and every history entry lands (flock)."""
    ctx = multiprocessing.get_context("fork")
    count = 25
    procs = [ctx.Process(target=_hammer, args=(str(path), w, count)) for w in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    store = FileStore(path, history_limit=1000)
    flags = store.read_all()
    assert len(flags) == 2 * count + 1
    shared = store.history("shared")
    assert len(shared) == min(2 * count, 100)
    for worker in range(2):  # each worker's own writes appear in its own order
        mine = [r["n"] for r in shared if r["worker"] == worker]
        assert mine == sorted(mine)
    assert not [p for p in path.parent.iterdir() if p.suffix == ".tmp"]
    assert path.with_name("flags.json.lock").exists()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(max_size=64) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_file_content_is_read_safely(tmp_path: Path, garbage: bytes) -> None:
    """Whatever the file holds, refresh() never raises and the last good value stays in force."""
    path = tmp_path / "garbage.json"
    path.unlink(missing_ok=True)  # tmp_path is shared by the examples
    FileStore(path).write("a", {"on": False})
    flags = Flags(FileStore(path), refresh=None, declare={"a": True})
    path.write_bytes(garbage)
    ok = flags.refresh()
    assert flags.stale is not ok
    if not ok:  # unreadable: everything as before
        assert flags.get("a").on is False
        return
    record = json.loads(garbage).get("flags", {}).get("a", "absent")
    try:
        expected = parse_record("a", record).on
    except (InvalidInputError, TypeError):
        expected = record == "absent"  # absent: declared default (True); garbage: last good
    assert flags.get("a").on is expected


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(record=json_values)
def test_any_record_in_a_valid_file_is_applied_or_ignored(tmp_path: Path, record: object) -> None:
    """A record of any JSON shape is either a valid flag record or ignored (last good kept)."""
    path = tmp_path / "records.json"
    path.write_text(json.dumps({"flags": {"a": {"on": False}, "b": {"on": False}}}))
    flags = Flags(FileStore(path), refresh=None)
    path.write_text(json.dumps({"flags": {"a": record, "b": {"on": True}}}))
    assert flags.refresh() is True
    valid = isinstance(record, dict) and isinstance(record.get("on"), bool)
    if not valid:
        assert flags.enabled("a") is False
    assert flags.enabled("b") is True


def test_write_missing_repairs_a_history_that_is_not_a_mapping(path: Path) -> None:
    """A hand-edited "history" that is not an object is replaced; the flags survive."""
    path.write_text(json.dumps({"flags": {"a": {"on": False}}, "history": "lost"}))
    store = FileStore(path)
    assert store.write_missing({"a": {"on": True}, "b": {"on": True}}) == ["b"]
    doc = json.loads(path.read_text())
    assert doc["flags"] == {"a": {"on": False}, "b": {"on": True}}
    assert doc["history"] == {"b": [{"on": True}]}


def test_write_missing_that_cannot_replace_the_file_raises_store_error(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed rename is a StoreError, counted; the file is unchanged."""
    store = FileStore(path)
    store.write("a", {"on": False})
    before = path.read_bytes()

    def disk_full(data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "_replace", disk_full)
    with pytest.raises(StoreError, match="No space left"):
        store.write_missing({"b": {"on": True}})
    assert store.errors == 1
    assert path.read_bytes() == before
