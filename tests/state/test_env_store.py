"""EnvStore: the read-only store contract, the variable names and the values it understands."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from tests.state.store_contract import StoreContract

from aiguard import EnvStore, Flags
from aiguard.errors import ConfigurationError, StoreError


def _value(record: Any) -> str:
    if record.get("on") is not True:
        return "off" if record.get("on") is False else str(record.get("on"))
    percent = record.get("percent")
    return "on" if percent is None else f"{percent}%"


class TestEnvStoreContract(StoreContract):
    writable = False

    @pytest.fixture
    def make_store(self):
        environ: dict[str, str] = {"PATH": "/bin", "AIGUARD_OTHER": "on"}
        return lambda: EnvStore(environ=environ)

    def seed(self, store: EnvStore, name: str, record: Any) -> None:
        store._environ[EnvStore.variable(name)] = _value(record)  # type: ignore[index]

    def corrupt(self, store: EnvStore, name: str) -> None:
        store._environ[EnvStore.variable(name)] = "sort of"  # type: ignore[index]


@pytest.mark.parametrize(
    ("value", "on", "percent"),
    [
        ("on", True, None), ("ON", True, None), ("true", True, None), ("1", True, None),
        ("yes", True, None), (" enabled ", True, None), ("off", False, None),
        ("False", False, None), ("0", False, None), ("no", False, None),
        ("disabled", False, None), ("25%", True, 25.0), ("0.5%", True, 0.5),
        ("100%", True, 100.0), ("0%", True, 0.0),
    ],
)
def test_values_are_understood(value: str, on: bool, percent: float | None) -> None:
    """Each documented spelling maps to its on/percent."""
    record = EnvStore(environ={"AIGUARD_FLAG_X": value}).read_all()["x"]
    assert (record["on"], record["percent"]) == (on, percent)
    assert record["reason"] == "environment variable AIGUARD_FLAG_X"


@pytest.mark.parametrize("value", ["maybe", "", "101%", "-1%", "nan%", "x%", "25"])
def test_garbage_values_are_ignored_counted_and_logged_once(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A value that is not on/off/N% is left out, counted, and logged once."""
    store = EnvStore(environ={"AIGUARD_FLAG_X": value, "AIGUARD_FLAG_Y": "off"})
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        assert set(store.read_all()) == {"y"}
        assert set(store.read_all()) == {"y"}
    assert store.garbage == 2
    assert len([r for r in caplog.records if "AIGUARD_FLAG_X" in r.getMessage()]) == 1


def test_garbage_after_a_good_value_keeps_the_good_one() -> None:
    """A variable changed to garbage keeps its last good record."""
    environ = {"AIGUARD_FLAG_X": "off"}
    store = EnvStore(environ=environ)
    store.read_all()
    environ["AIGUARD_FLAG_X"] = "of"
    assert store.read_all()["x"]["on"] is False


def test_invalid_flag_name_is_ignored() -> None:
    """A variable whose suffix is not a valid flag name is ignored."""
    store = EnvStore(environ={"AIGUARD_FLAG_": "on", "AIGUARD_FLAG_A!B": "on"})
    assert store.read_all() == {}
    assert store.garbage == 2


def test_variable_names_round_trip() -> None:
    """variable(name) is what read_all maps back to name; other prefixes work."""
    for name in ("recs.personalized", "a_b.c", "x9"):
        environ = {EnvStore.variable(name, "APP_"): "off"}
        assert list(EnvStore("APP_", environ=environ).read_all()) == [name]


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without environ=, the live process environment is read at each refresh."""
    monkeypatch.setenv("AIGUARD_FLAG_RECS__PERSONALIZED", "off")
    flags = Flags(EnvStore(), refresh=None)
    assert flags.enabled("recs.personalized") is False
    monkeypatch.setenv("AIGUARD_FLAG_RECS__PERSONALIZED", "on")
    flags.refresh()
    assert flags.enabled("recs.personalized") is True


def test_write_error_names_the_variable() -> None:
    """The read-only error tells the operator which variable to set."""
    with pytest.raises(StoreError, match="AIGUARD_FLAG_RECS__PERSONALIZED"):
        EnvStore().write("recs.personalized", {"on": False})


@pytest.mark.parametrize("bad", ["", 3])
def test_prefix_is_validated(bad: object) -> None:
    """prefix must be a non-empty string."""
    with pytest.raises(ConfigurationError, match="prefix"):
        EnvStore(bad)  # type: ignore[arg-type]


def test_repr_shows_prefix() -> None:
    """The repr names the prefix."""
    assert repr(EnvStore()) == "EnvStore('AIGUARD_FLAG_')"
