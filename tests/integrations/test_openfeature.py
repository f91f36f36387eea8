"""OpenFeature both ways, against OpenFeature's own InMemoryProvider."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEvent
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, Reason
from openfeature.provider import AbstractProvider, Metadata
from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider
from tests.state.store_contract import StoreContract

from aiguard import Flags
from aiguard.errors import ConfigurationError, StoreError
from aiguard.integrations.openfeature import AiguardProvider, OpenFeatureStore
from aiguard.state._records import parse_record
from aiguard.typing import FlagStore

if TYPE_CHECKING:
    from collections.abc import Mapping


def _flag(on: bool) -> InMemoryFlag[Any]:
    return InMemoryFlag("on" if on else "off", {"on": True, "off": False})


@pytest.fixture
def domain():
    name = f"test-{uuid.uuid4().hex}"
    yield name
    api.clear_providers()


def _client(domain: str, provider: Any):
    api.set_provider(provider, domain=domain)
    return api.get_client(domain)


# -- OpenFeatureStore: an OpenFeature client drives aiguard ------------------


def test_store_reads_booleans_from_the_provider(domain: str) -> None:
    """Each named boolean flag becomes a record with its value."""
    client = _client(domain, InMemoryProvider({"a": _flag(on=False), "b": _flag(on=True)}))
    records = OpenFeatureStore(client, names=["a", "b"]).read_all()
    assert {name: r["on"] for name, r in records.items()} == {"a": False, "b": True}


def test_store_is_a_flag_store(domain: str) -> None:
    """OpenFeatureStore satisfies the FlagStore protocol."""
    client = _client(domain, InMemoryProvider({}))
    assert isinstance(OpenFeatureStore(client, names=["a"]), FlagStore)


def test_store_leaves_out_flags_the_provider_does_not_know(domain: str) -> None:
    """FLAG_NOT_FOUND leaves the flag out, so the flag set's declared default applies."""
    client = _client(domain, InMemoryProvider({"a": _flag(on=False)}))
    assert set(OpenFeatureStore(client, names=["a", "missing"]).read_all()) == {"a"}


def test_store_follows_changes_in_the_provider(domain: str) -> None:
    """A new provider configuration is seen on the next read."""
    store = OpenFeatureStore(_client(domain, InMemoryProvider({"a": _flag(on=True)})), names=["a"])
    assert store.read_all()["a"]["on"] is True
    api.set_provider(InMemoryProvider({"a": _flag(on=False)}), domain=domain)
    assert store.read_all()["a"]["on"] is False


def test_store_passes_the_context_to_the_provider(domain: str) -> None:
    """The evaluation context given to the store reaches the provider's targeting."""

    def by_region(flag: InMemoryFlag[Any], ctx: EvaluationContext) -> FlagResolutionDetails[Any]:
        del flag
        return FlagResolutionDetails(value=ctx.attributes.get("region") != "eu")

    flag = InMemoryFlag("on", {"on": True}, context_evaluator=by_region)
    client = _client(domain, InMemoryProvider({"a": flag}))
    eu, us = (
        OpenFeatureStore(client, names=["a"], context=EvaluationContext(attributes={"region": r}))
        for r in ("eu", "us")
    )
    assert (eu.read_all()["a"]["on"], us.read_all()["a"]["on"]) == (False, True)


def test_store_keeps_the_last_good_value_for_a_non_boolean(
    domain: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A flag that turns into a string keeps its last good record, counted and logged once."""
    store = OpenFeatureStore(_client(domain, InMemoryProvider({"a": _flag(on=False)})), names=["a"])
    good = store.read_all()
    api.set_provider(InMemoryProvider({"a": InMemoryFlag("x", {"x": "yes"})}), domain=domain)
    with caplog.at_level(logging.WARNING, logger="aiguard"):
        assert store.read_all() == good
        assert store.read_all() == good
    assert store.garbage == 2
    assert len(caplog.records) == 1
    fresh = OpenFeatureStore(api.get_client(domain), names=["a"])
    assert fresh.read_all() == {}  # never a good value: left out


class BrokenProvider(AbstractProvider):
    """A provider whose backend is unreachable."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how

    def get_metadata(self) -> Metadata:
        return Metadata(name="broken")

    def resolve_boolean_details(self, flag_key, default_value, evaluation_context=None):
        if self.how == "raise":
            raise ConnectionError("flag server down")
        return FlagResolutionDetails(
            value=default_value, reason=Reason.ERROR, error_code=ErrorCode.GENERAL,
            error_message="flag server down",
        )

    resolve_string_details = resolve_integer_details = resolve_boolean_details
    resolve_float_details = resolve_object_details = resolve_boolean_details


@pytest.mark.parametrize("how", ["raise", "error_code"])
def test_store_raises_store_error_when_the_provider_fails(domain: str, how: str) -> None:
    """A failing provider makes the read a StoreError, so Flags keeps its values and goes stale."""
    store = OpenFeatureStore(_client(domain, BrokenProvider(how)), names=["a"])
    with pytest.raises(StoreError, match="could not evaluate 'a'"):
        store.read_all()


def test_store_raises_when_the_client_itself_raises() -> None:
    """Even a client that raises (not the SDK's) gives StoreError."""

    class Exploding:
        def get_boolean_details(self, *args: Any) -> Any:
            raise RuntimeError("no")

    with pytest.raises(StoreError):
        OpenFeatureStore(Exploding(), names=["a"]).read_all()


def test_store_is_read_only(domain: str) -> None:
    """write() raises StoreError naming the flag."""
    store = OpenFeatureStore(_client(domain, InMemoryProvider({})), names=["a"])
    with pytest.raises(StoreError, match="read-only: change 'a'"):
        store.write("a", {"on": False})
    assert repr(store) == "OpenFeatureStore(names=['a'])"


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"client": object()}, "client"),
        ({"names": "a"}, "names"),
        ({"names": []}, "names"),
        ({"names": ["a", ""]}, "names"),
        ({"names": [1]}, "names"),
    ],
)
def test_store_bad_arguments_name_themselves(domain: str, kwargs: dict, argument: str) -> None:
    """Invalid arguments raise ConfigurationError naming the argument."""
    args: dict[str, Any] = {"client": api.get_client(domain), "names": ["a"], **kwargs}
    client = args.pop("client")
    with pytest.raises(ConfigurationError) as info:
        OpenFeatureStore(client, **args)
    assert info.value.argument == argument


class TestOpenFeatureStoreContract(StoreContract):
    """The store contract, with OpenFeature's InMemoryProvider as the backing state."""

    writable = False
    NAMES = ("recs.personalized", "search", "a", "b")

    @pytest.fixture
    def make_store(self, domain: str):
        self.domain = domain
        self.flags: dict[str, InMemoryFlag[Any]] = {}
        api.set_provider(InMemoryProvider({}), domain=domain)
        return lambda: OpenFeatureStore(api.get_client(domain), names=self.NAMES)

    def seed(self, store: Any, name: str, record: Mapping[str, Any]) -> None:
        del store
        self.flags[name] = _flag(on=record["on"])
        api.set_provider(InMemoryProvider(self.flags), domain=self.domain)

    def corrupt(self, store: Any, name: str) -> None:
        del store
        self.flags[name] = InMemoryFlag("x", {"x": "garbage"})
        api.set_provider(InMemoryProvider(self.flags), domain=self.domain)

    def test_seeded_records_read_back_as_states(self, store: Any) -> None:
        """OpenFeature booleans carry no percent: on/off read back (targeting is the provider's)."""
        self.seed(store, "recs.personalized", {"on": False})
        self.seed(store, "search", {"on": True})
        read = store.read_all()
        assert {n: parse_record(n, r).on for n, r in read.items()} == {
            "recs.personalized": False, "search": True,
        }


# -- AiguardProvider: aiguard flags read through OpenFeature -----------------


@pytest.fixture
def flags():
    made = Flags(refresh=None, declare={"recs.personalized": True})
    yield made
    made.close()


def test_provider_answers_on_and_off(domain: str, flags: Flags) -> None:
    """A flag switched off reads False through the client, with reason STATIC and a variant."""
    client = _client(domain, AiguardProvider(flags))
    assert client.get_boolean_value("recs.personalized", False) is True
    flags.set("recs.personalized", on=False, reason="3 AM", actor="ops")
    details = client.get_boolean_details("recs.personalized", True)
    assert (details.value, details.reason, details.variant) == (False, Reason.STATIC, "off")
    assert details.flag_metadata["reason"] == "3 AM"


def test_provider_targeting_key_is_the_sticky_rollout_key(domain: str, flags: Flags) -> None:
    """Under a partial rollout each targeting key gets exactly what flags.enabled(key=) says."""
    flags.set("recs.personalized", on=True, percent=30)
    client = _client(domain, AiguardProvider(flags))
    keys = [f"user-{i}" for i in range(300)]
    via_openfeature = [
        client.get_boolean_value("recs.personalized", False, EvaluationContext(targeting_key=k))
        for k in keys
    ]
    assert via_openfeature == [flags.enabled("recs.personalized", key=k) for k in keys]
    assert 0 < sum(via_openfeature) < len(keys)
    details = client.get_boolean_details("recs.personalized", False, EvaluationContext("user-1"))
    assert details.reason == Reason.SPLIT
    assert details.flag_metadata["percent"] == 30.0


def test_provider_unknown_flag_is_flag_not_found(domain: str, flags: Flags) -> None:
    """A name the flag set does not know answers FLAG_NOT_FOUND and the caller's default."""
    client = _client(domain, AiguardProvider(flags))
    details = client.get_boolean_details("never.declared", True)
    assert (details.value, details.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)


@pytest.mark.parametrize("method", ["get_string_details", "get_integer_details",
                                    "get_float_details", "get_object_details"])
def test_provider_non_boolean_lookups_are_type_mismatch(
    domain: str, flags: Flags, method: str
) -> None:
    """aiguard flags are boolean: other types answer TYPE_MISMATCH with the default."""
    defaults = {"get_string_details": "x", "get_integer_details": 1,
                "get_float_details": 1.5, "get_object_details": {"a": 1}}
    client = _client(domain, AiguardProvider(flags))
    details = getattr(client, method)("recs.personalized", defaults[method])
    assert (details.value, details.error_code) == (defaults[method], ErrorCode.TYPE_MISMATCH)


def test_provider_reports_stale_when_the_store_is_down(domain: str) -> None:
    """While the flag set cannot read its store, answers carry reason STALE."""

    class DownStore:
        def read_all(self) -> dict:
            raise StoreError("down")

        def write(self, name: str, record: Any) -> None:
            raise StoreError("down")

    stale = Flags(DownStore(), refresh=None, declare={"recs.personalized": False})
    client = _client(domain, AiguardProvider(stale))
    details = client.get_boolean_details("recs.personalized", True)
    assert (details.value, details.reason) == (False, Reason.STALE)


def test_provider_announces_flag_changes(domain: str, flags: Flags) -> None:
    """A flag change reaches OpenFeature handlers as PROVIDER_CONFIGURATION_CHANGED."""
    provider = AiguardProvider(flags)
    api.set_provider_and_wait(provider, domain=domain)
    client = api.get_client(domain)
    seen: list[Any] = []
    client.add_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, seen.append)
    provider.initialize(EvaluationContext())  # a second initialize subscribes nothing twice
    flags.set("recs.personalized", on=False)
    assert [event.flags_changed for event in seen] == [["recs.personalized"]]
    assert provider.get_metadata().name == "aiguard"


def test_provider_needs_a_flag_set() -> None:
    """Anything but a Flags object is a ConfigurationError."""
    with pytest.raises(ConfigurationError) as info:
        AiguardProvider(object())  # type: ignore[arg-type]
    assert info.value.argument == "flags"
