"""Sticky percentage rollout: a reference hash, monotone in the percentage, close to the share."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from tests.strategies import flag_names, percents

import aiguard as ag
from aiguard.contain.flags._rollout import bucket, in_rollout, threshold

names = flag_names(max_size=31)
keys = st.one_of(st.text(max_size=30), st.integers(), st.uuids())


def reference_bucket(flag: str, key: object) -> int:
    """The documented rule, written out independently of the code under test."""
    text = "aiguard:" + flag + ":" + str(key)
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10_000


def make(name: str, percent: float) -> ag.Flags:
    flags = ag.Flags(refresh=None)
    flags.set(name, on=True, percent=percent)
    return flags


@settings(max_examples=60)
@given(flag=names, key=keys)
def test_bucket_matches_the_documented_reference(flag: str, key: object) -> None:
    """bucket() is blake2b-8 of 'aiguard:{flag}:{key}' modulo 10,000."""
    assert bucket(flag, key) == reference_bucket(flag, key)


@settings(max_examples=50)
@given(flag=names, key=keys, percent=percents)
def test_enabled_follows_the_reference_rule(flag: str, key: object, percent: float) -> None:
    """enabled(key=) is True exactly when the reference bucket is below round(percent * 100)."""
    expected = reference_bucket(flag, key) < round(percent * 100)
    assert make(flag, percent).enabled(flag, key=key) is expected
    assert in_rollout(flag, key, percent) is expected


@settings(max_examples=40, deadline=None)
@given(
    flag=names,
    ps=st.lists(percents, min_size=2, max_size=5).map(sorted),
    user_keys=st.lists(st.text(max_size=12), min_size=1, max_size=200, unique=True),
)
def test_raising_the_percentage_only_adds_keys(
    flag: str, ps: list[float], user_keys: list[str]
) -> None:
    """For p1 <= p2, everyone in the p1 rollout is in the p2 rollout (nobody flips back)."""
    flags = ag.Flags(refresh=None)
    previous: set[str] = set()
    for percent in ps:
        flags.set(flag, on=True, percent=percent)
        current = {k for k in user_keys if flags.enabled(flag, key=k)}
        assert previous <= current
        previous = current


@settings(max_examples=8, deadline=None)
@given(flag=names, percent=st.floats(0.5, 99.5))
def test_share_of_keys_is_close_to_the_percentage(flag: str, percent: float) -> None:
    """Over 10,000 keys the count in the rollout lies in the binomial 1 - 1e-6 interval."""
    n = 10_000
    flags = make(flag, percent)
    count = sum(flags.enabled(flag, key=f"user-{i}") for i in range(n))
    p = threshold(percent) / 10_000
    low, high = stats.binom.interval(1 - 1e-6, n, p)
    assert low <= count <= high


def test_buckets_are_uniform() -> None:
    """Buckets of 50,000 keys are uniform over 10 deciles (chi-square, scipy)."""
    counts = [0] * 10
    for i in range(50_000):
        counts[bucket("recs", i) // 1000] += 1
    assert stats.chisquare(counts).pvalue > 1e-4


def test_two_flags_roll_out_independently() -> None:
    """Two 50 % rollouts overlap on about a quarter of the keys (not the same half)."""
    n = 20_000
    both = sum(bucket("a", i) < 5000 and bucket("b", i) < 5000 for i in range(n))
    low, high = stats.binom.interval(1 - 1e-6, n, 0.25)
    assert low <= both <= high


def test_missing_key_is_never_random() -> None:
    """Without a key a partial rollout answers the same (off) every time."""
    flags = make("f", 50)
    assert {flags.enabled("f") for _ in range(100)} == {False}


def test_unhashable_keys_are_hashed_by_their_text() -> None:
    """An unhashable key (a list) is bucketed by str(key) like any other, not refused."""
    flags = make("f", 50)
    for key in ([1], [2, 3], {"user": 7}, [4]):
        assert flags.enabled("f", key=key) is (reference_bucket("f", key) < 5000)
    assert flags.faults == 0


def test_equal_keys_of_different_types_keep_their_own_buckets() -> None:
    """1 and 1.0 hash as '1' and '1.0': the bucket cache keeps them apart."""
    assert bucket("f", 1) == reference_bucket("f", 1)
    assert bucket("f", 1.0) == reference_bucket("f", 1.0)
    flags = make("f", 50)
    assert flags.enabled("f", key=1) is (reference_bucket("f", 1) < 5000)
    assert flags.enabled("f", key=1.0) is (reference_bucket("f", 1.0) < 5000)


def test_key_cache_is_bounded_and_answers_stay_the_same(monkeypatch) -> None:
    """The per-flag key cache is cleared when full; answers never change because of it."""
    import aiguard.contain.flags._snapshot as flags_module

    monkeypatch.setattr(flags_module, "KEY_CACHE_SIZE", 8)
    flags = make("f", 50)
    first = [flags.enabled("f", key=f"k{i}") for i in range(30)]
    again = [flags.enabled("f", key=f"k{i}") for i in range(30)]
    assert first == again == [reference_bucket("f", f"k{i}") < 5000 for i in range(30)]
    assert len(flags._key_cache["f"]) <= 8
    flags.set("f", on=True, percent=75)  # a new percentage reuses the cached buckets
    assert [flags.enabled("f", key=f"k{i}") for i in range(30)] == [
        reference_bucket("f", f"k{i}") < 7500 for i in range(30)
    ]
