"""Type-checked only: kill_switch keeps signatures; Flags and the stores satisfy their types."""

from __future__ import annotations

from aiguard import EnvStore, FileStore, Flags, MemoryStore, kill_switch
from aiguard.contain.flags import FlagChange, FlagsStatus, FlagState
from aiguard.typing import FlagStore  # noqa: TC001 - used at run time in this check

stores: list[FlagStore] = [MemoryStore(), FileStore("/tmp/flags.json"), EnvStore()]
flags = Flags(stores[0], refresh=None, declare={"recs": True})


def popular(user: str, *, n: int = 3) -> list[str]:
    return ["bestseller"] * n


async def apopular(user: str, *, n: int = 3) -> list[str]:
    return ["bestseller"] * n


@kill_switch("recs", flags=flags, fallback=popular)
def recommend(user: str, *, n: int = 3) -> list[str]:
    return [user] * n


@kill_switch("recs", flags=flags)
async def arecommend(user: str, *, n: int = 3) -> list[str]:
    return [user] * n


@kill_switch("recs", flags=flags, fallback=apopular)
async def arecommend2(user: str, *, n: int = 3) -> list[str]:
    return [user] * n


items: list[str] = recommend("ana", n=2)
recommend("ana", m=2)  # type: ignore[call-arg]
wrong: int = recommend("ana")  # type: ignore[assignment]


@kill_switch("recs", flags=flags, fallback=popular)  # type: ignore[arg-type]
def mismatched(user: int) -> list[str]:
    return [str(user)]


async def use() -> list[str]:
    """Awaiting the switched coroutine function gives its declared result."""
    return await arecommend("ana") + await arecommend2("bo", n=1)


on: bool = flags.enabled("recs", key="user-42", default=False)
state: FlagState = flags.get("recs")
percent: float | None = state.percent
status: FlagsStatus = flags.status
flags.set("recs", on=False, percent=None, reason="INC-42", actor="ana")
flags.add_listener(lambda change: print(change.name))


def on_change(change: FlagChange) -> None:
    """A typed listener."""


flags.add_listener(on_change)

flags.set("recs", False)  # type: ignore[call-arg]  # on/off is keyword-only
FlagState("recs", False)  # type: ignore[call-arg]
registration_errors: int = flags.status.registration_errors
