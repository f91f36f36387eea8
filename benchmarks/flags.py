"""Feature flags: aiguard's ``Flags.enabled`` and ``kill_switch`` against OpenFeature and Unleash.

    python benchmarks/flags.py            # full run (about a minute on a quiet machine)
    python benchmarks/flags.py --quick    # smoke run

Every case is a zero-argument call timed in a tight loop, rounds interleaved
with the other cases of its group, best round kept (see ``_bench.py``).
Contenders, evaluated in the same run on the same flag definitions:

* aiguard ``Flags`` on a ``MemoryStore`` (the snapshot read is the same for
  every store: the store is only touched by the background refresher).
* OpenFeature's Python SDK with its ``InMemoryProvider`` (``client.get_boolean_value``);
  it has no built-in percentage rollout, so only the fully-on case.
* UnleashClient in offline mode: bootstrapped from a dict in the shape of
  Unleash's ``/api/client/features``, ``initialize_client(fetch_toggles=False)``,
  no registration, no metrics, no network. ``default`` strategy for fully on,
  ``flexibleRollout`` at 25 % sticky on ``userId`` for the rollout case.

Budgets (issue 4): ``enabled`` <= 300 ns; a kill-switched call served by its
fallback <= 1 us added over calling the fallback directly.
"""

from __future__ import annotations

import itertools
import logging
import sys
import tempfile
import warnings

from _bench import best_ns, markdown_table, parser, versions

import aiguard as ag

BUDGET_ENABLED = 300.0
BUDGET_ADDED = 1000.0


def aiguard_cases() -> list[tuple[str, object, str]]:
    flags = ag.Flags(refresh=None, declare={"recs.personalized": True})
    flags.set("recs.rollout", on=True, percent=25)
    flags.set("recs.off", on=False)
    keys = itertools.cycle([f"user-{i}" for i in range(100_000)])  # > the 32,768-entry cache
    enabled = flags.enabled
    return [
        ("aiguard enabled, fully on", lambda: enabled("recs.personalized"), "sync"),
        ("aiguard enabled, switched off", lambda: enabled("recs.off"), "sync"),
        ("aiguard enabled, unknown name", lambda: enabled("never.declared"), "sync"),
        (
            "aiguard enabled, 25% rollout, repeated key",
            lambda: enabled("recs.rollout", key="user-42"),
            "sync",
        ),
        (
            "aiguard enabled, 25% rollout, 100k cycling keys (cache misses)",
            lambda: enabled("recs.rollout", key=next(keys)),
            "sync",
        ),
        ("floor: next() on the key cycle", lambda: next(keys), "sync"),
    ]


def openfeature_cases() -> tuple[list[tuple[str, object, str]], str]:
    try:
        from openfeature import api
        from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider
    except ImportError as exc:
        return [], f"OpenFeature not run: {exc}"
    flag = InMemoryFlag("on", {"on": True, "off": False})
    api.set_provider(InMemoryProvider({"recs.personalized": flag}), domain="bench")
    client = api.get_client("bench")
    return [
        (
            "openfeature InMemoryProvider, fully on",
            lambda: client.get_boolean_value("recs.personalized", default_value=False),
            "sync",
        ),
    ], ""


def unleash_cases() -> tuple[list[tuple[str, object, str]], str]:
    try:
        from UnleashClient import UnleashClient
        from UnleashClient.cache import FileCache
    except ImportError as exc:
        return [], f"UnleashClient not run: {exc} (pip install UnleashClient)"
    features = {
        "version": 1,
        "features": [
            {"name": "recs.personalized", "enabled": True, "strategies": [{"name": "default"}]},
            {
                "name": "recs.rollout",
                "enabled": True,
                "strategies": [
                    {
                        "name": "flexibleRollout",
                        "parameters": {
                            "rollout": "25",
                            "stickiness": "userId",
                            "groupId": "recs.rollout",
                        },
                    }
                ],
            },
        ],
    }
    cache = FileCache("aiguard-bench", directory=tempfile.mkdtemp(prefix="unleash-"))
    cache.bootstrap_from_dict(features)
    logging.getLogger("UnleashClient").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = UnleashClient(
            url="http://unleash.invalid/api",
            app_name="aiguard-bench",
            cache=cache,
            disable_metrics=True,
            disable_registration=True,
            refresh_interval=3600,
        )
        client.initialize_client(fetch_toggles=False)
    assert client.is_enabled("recs.personalized")
    share = sum(client.is_enabled("recs.rollout", {"userId": f"u{i}"}) for i in range(2000))
    assert 350 < share < 650, share  # about 25 % of 2000: the rollout really is evaluated
    context = {"userId": "user-42"}
    return [
        ("unleash offline, fully on", lambda: client.is_enabled("recs.personalized"), "sync"),
        (
            "unleash offline, 25% rollout, userId",
            lambda: client.is_enabled("recs.rollout", context),
            "sync",
        ),
    ], ""


def kill_switch_cases() -> list[tuple[str, object, str]]:
    flags = ag.Flags(refresh=None)
    flags.set("recs.off", on=False)
    flags.set("recs.on", on=True)

    def popular(x: int) -> int:
        return x

    def model(x: int) -> int:
        return x + 1

    switched_off = ag.kill_switch("recs.off", flags=flags, fallback=popular)(model)
    switched_on = ag.kill_switch("recs.on", flags=flags, fallback=popular)(model)
    guarded_off = ag.Guard(name="recs", kill_switch="recs.off", flags=flags, fallback=popular)(
        model
    )
    return [
        ("fallback called directly", lambda: popular(1), "sync"),
        ("kill_switch off, served by the fallback", lambda: switched_off(1), "sync"),
        ("Guard(kill_switch=...) off, served by the fallback", lambda: guarded_off(1), "sync"),
        ("model called directly", lambda: model(1), "sync"),
        ("kill_switch on, model called", lambda: switched_on(1), "sync"),
    ]


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    number, rounds = (20_000, 3) if args.quick else (200_000, 7)
    notes: list[str] = []
    flag_cases = aiguard_cases()
    for extra in (openfeature_cases(), unleash_cases()):
        flag_cases += extra[0]
        if extra[1]:
            notes.append(extra[1])
    if args.only:  # keep the cases matching --only (and the floor the cycling case needs)
        flag_cases = [
            c for c in flag_cases if c[0].startswith("floor") or any(o in c[0] for o in args.only)
        ]
    unleash_number = max(number // 10, 1000)  # Unleash is slower: fewer calls, same rounds
    fast = [c for c in flag_cases if not c[0].startswith("unleash")]
    slow = [c for c in flag_cases if c[0].startswith("unleash")]
    results = best_ns(fast, number=number, rounds=rounds)  # type: ignore[arg-type]
    if slow:
        results |= best_ns(slow, number=unleash_number, rounds=rounds)  # type: ignore[arg-type]
    ks = best_ns(kill_switch_cases(), number=number, rounds=rounds)  # type: ignore[arg-type]

    floor = results.pop("floor: next() on the key cycle")
    cycling = "aiguard enabled, 25% rollout, 100k cycling keys (cache misses)"
    if cycling in results:
        results[cycling + " minus next()"] = results.pop(cycling) - floor
    rows = []
    for name, ns in results.items():
        budget = ""
        if name.startswith("aiguard enabled") and "cache misses" not in name:
            budget = "ok" if ns <= BUDGET_ENABLED else "OVER"
        rows.append([name, f"{ns:,.0f}", f"{BUDGET_ENABLED:.0f}" if budget else "-", budget or "-"])
    print("### `Flags.enabled` and peers (ns per call, best of rounds)\n")
    print(markdown_table(["case", "ns/call", "budget", "within"], rows))
    added_off = ks["kill_switch off, served by the fallback"] - ks["fallback called directly"]
    added_on = ks["kill_switch on, model called"] - ks["model called directly"]
    added_guard = (
        ks["Guard(kill_switch=...) off, served by the fallback"] - ks["fallback called directly"]
    )
    rows = [[name, f"{ns:,.0f}", "-", "-"] for name, ns in ks.items()]
    rows.append(
        [
            "added: kill-switched call over its fallback",
            f"{added_off:,.0f}",
            f"{BUDGET_ADDED:.0f}",
            "ok" if added_off <= BUDGET_ADDED else "OVER",
        ]
    )
    rows.append(
        [
            "added: Guard kill-switched call over its fallback",
            f"{added_guard:,.0f}",
            f"{BUDGET_ADDED:.0f}",
            "ok" if added_guard <= BUDGET_ADDED else "OVER",
        ]
    )
    rows.append(["added: switched-on call over the bare model", f"{added_on:,.0f}", "-", "-"])
    print("\n### `kill_switch` (ns per call)\n")
    print(markdown_table(["case", "ns/call", "budget", "within"], rows))
    print(
        f"\n{number:,} calls x {rounds} rounds (Unleash: {unleash_number:,} calls); "
        + versions(["aiguard", "openfeature-sdk", "UnleashClient", "yggdrasil-engine"])
    )
    for note in notes:
        print(f"note: {note}")
    over = any(r[3] == "OVER" for r in rows)
    return 1 if over and not args.quick else 0


if __name__ == "__main__":
    sys.exit(main())
