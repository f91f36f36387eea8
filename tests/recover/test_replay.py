"""replay: arrays, DataFrames and JSON Lines through both models, judged like a canary step."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest

import aiguard as ag
from aiguard.errors import ConfigurationError, InvalidInputError
from aiguard.testing import FakeClock

if TYPE_CHECKING:
    from pathlib import Path

RNG = np.random.default_rng(0)
X = RNG.normal(size=(400, 3))
Y = (X[:, 0] > 0).astype(int)


def good(x: Any) -> Any:
    return (np.asarray(x)[:, 0] > 0).astype(int)


def worse(x: Any) -> Any:
    return (np.asarray(x)[:, 1] > 0).astype(int)


def test_identical_models_pass_and_counts_add_up() -> None:
    """The same model against itself passes; every row is called once per model."""
    report = ag.replay(X, good, good, labels=Y, batch_size=8)
    assert report.verdict == "pass"
    assert (report.rows, report.calls) == (400, {"baseline": 50, "candidate": 50})
    assert report.errors == {"baseline": 0, "candidate": 0}


def test_worse_accuracy_fails_the_label_metric() -> None:
    """Accuracy ~0.5 vs 1.0: the label metric's effect is the accuracy difference, and fails."""
    report = ag.replay(X, worse, good, labels=Y, batch_size=8)
    label = {m.name: m for m in report.judgement.metrics}["label"]
    expected = float((worse(X) == Y).mean() - 1.0)
    assert label.effect == pytest.approx(expected)
    assert label.verdict == "fail"


def test_failing_candidate_is_critical() -> None:
    """A candidate that raises on a fifth of the batches fails on errors."""
    calls = [0]

    def flaky(x: Any) -> Any:
        calls[0] += 1
        if calls[0] % 5 == 0:
            raise RuntimeError("flaky")
        return good(x)

    report = ag.replay(X, flaky, good, batch_size=4)
    assert report.errors["candidate"] == 20
    assert report.verdict == "fail"
    assert "critical" in report.judgement.reason


def test_regression_labels_use_negative_absolute_error() -> None:
    """Float predictions against float labels score -|error| per row (higher better)."""
    y = X[:, 0] * 2.0
    report = ag.replay(X, lambda x: x[:, 0] * 2.0 + 1.0, lambda x: x[:, 0] * 2.0, labels=y,
                       batch_size=10)
    label = {m.name: m for m in report.judgement.metrics}["label"]
    assert label.effect == pytest.approx(-1.0)
    custom = ag.replay(X, lambda x: x[:, 0], lambda x: x[:, 0], labels=y, batch_size=10,
                       score=lambda p, t: -((p - t) ** 2))
    assert custom.verdict == "pass"


def test_dataframe_and_jsonl_inputs(tmp_path: Path) -> None:
    """A DataFrame's rows and a JSON Lines file's objects reach the model as DataFrames."""
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    seen: list[type] = []

    def model(rows: Any) -> Any:
        seen.append(type(rows))
        return (rows["a"] > 0).astype(int).to_numpy()

    assert ag.replay(frame, model, model, labels=Y, batch_size=20).verdict == "pass"
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in frame.to_dict("records")) + "\n\n",
                    encoding="utf-8")
    report = ag.replay(path, model, model, labels=Y, batch_size=20)
    assert report.rows == 400
    assert set(seen) == {pd.DataFrame}
    arrays = tmp_path / "arrays.jsonl"
    arrays.write_text("\n".join(json.dumps(list(r)) for r in X), encoding="utf-8")
    assert ag.replay(str(arrays), good, good, batch_size=50).rows == 400


def test_list_of_dicts_is_passed_through() -> None:
    """A list of request dicts is batched as lists of dicts."""
    records = [{"x": float(v)} for v in X[:, 0]]
    report = ag.replay(records, lambda rs: [r["x"] > 0 for r in rs],
                       lambda rs: [r["x"] > 0 for r in rs], batch_size=10)
    assert report.calls["candidate"] == 40


def test_latency_from_the_clock() -> None:
    """A candidate 10x slower on the injected clock fails the latency metric."""
    clock = FakeClock()
    rng = np.random.default_rng(1)

    def slow(x: Any) -> Any:
        clock.advance(float(rng.gamma(4, 0.01)) * 10)
        return good(x)

    def fast(x: Any) -> Any:
        clock.advance(float(rng.gamma(4, 0.01)))
        return good(x)

    report = ag.replay(X, slow, fast, batch_size=4, clock=clock)
    latency = {m.name: m for m in report.judgement.metrics}["latency"]
    assert latency.verdict == "fail"
    doc = report.to_dict()
    assert doc["judgement"]["verdict"] == "fail"
    assert report.to_markdown().startswith("Replayed 400 requests: 100 candidate calls")


def test_bad_inputs(tmp_path: Path) -> None:
    """Missing files, broken JSON lines, scalars, empty input and wrong labels are refused."""
    with pytest.raises(InvalidInputError, match="JSON Lines"):
        ag.replay(tmp_path / "missing.jsonl", good, good)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"a": 1}\n{oops\n', encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"broken\.jsonl:2"):
        ag.replay(broken, good, good)
    with pytest.raises(InvalidInputError, match="one request per row"):
        ag.replay(3.0, good, good)
    with pytest.raises(InvalidInputError, match="at least one"):
        ag.replay(np.empty((0, 3)), good, good)
    with pytest.raises(InvalidInputError, match="one label per request"):
        ag.replay(X, good, good, labels=Y[:10])
    with pytest.raises(ConfigurationError, match="candidate"):
        ag.replay(X, 3, good)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="batch_size"):
        ag.replay(X, good, good, batch_size=0)

    class Unarrayable:
        def __array__(self, *args: object, **kwargs: object) -> Any:
            raise TypeError("no")

    with pytest.raises(InvalidInputError, match="Unarrayable"):
        ag.replay(Unarrayable(), good, good)
