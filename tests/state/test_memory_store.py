"""MemoryStore: the store contract, plus its own bounds."""

from __future__ import annotations

import pytest
from tests.state.store_contract import StoreContract

from aiguard import MemoryStore
from aiguard.errors import ConfigurationError


class TestMemoryStoreContract(StoreContract):
    @pytest.fixture
    def make_store(self):
        store = MemoryStore()
        return lambda: store


def test_history_is_bounded() -> None:
    """Only the last history_limit records of a flag are kept."""
    store = MemoryStore(history_limit=3)
    for i in range(5):
        store.write("a", {"on": True, "n": i})
    assert [r["n"] for r in store.history("a")] == [2, 3, 4]


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_history_limit_is_validated(bad: object) -> None:
    """history_limit must be an integer >= 1."""
    with pytest.raises(ConfigurationError, match="history_limit"):
        MemoryStore(history_limit=bad)  # type: ignore[arg-type]


def test_repr_counts_flags() -> None:
    """The repr says how many flags are stored."""
    store = MemoryStore()
    store.write("a", {"on": True})
    assert repr(store) == "MemoryStore(<1 flags>)"
