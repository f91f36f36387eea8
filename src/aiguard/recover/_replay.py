"""replay: judge a candidate against a baseline on recorded requests, before it goes live.

The requests (a numpy array or anything ``np.asarray`` takes, a pandas
DataFrame, or a JSON Lines file of captured inputs) are cut into batches of
``batch_size`` rows; each batch goes through both models, alternately, and
each call records the same per-arm metrics as a canary step (``latency``,
``error``, ``output``; see :mod:`aiguard.recover._samples`). With ``labels``
(one per row), each row also scores ``label``: 1.0 when the prediction equals
the label, or, for float predictions against float labels, minus the absolute
error; higher is better either way (or pass ``score(predictions, labels)``
returning per-row values, higher better). The judge then decides exactly as
at a canary step.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from aiguard._core import _validate
from aiguard._core._clock import MONOTONIC, validate_clock
from aiguard.errors import ConfigurationError, InvalidInputError
from aiguard.recover._judge import Judgement, default_judge
from aiguard.recover._samples import Samples, summarise

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiguard.typing import Clock, Judge

__all__ = ["ReplayReport", "replay"]


@attrs.frozen
class ReplayReport:
    """What a replay found: the judgement and the counts behind it.

    Attributes:
        judgement: the judge's :class:`~aiguard.Judgement` (candidate vs baseline).
        rows: requests replayed.
        calls: calls per model (``{"baseline": n, "candidate": n}``).
        errors: calls that raised, per model.
    """

    judgement: Judgement
    rows: int
    calls: dict[str, int]
    errors: dict[str, int]

    @property
    def verdict(self) -> str:
        """The judgement's verdict: ``pass``, ``marginal``, ``fail`` or ``inconclusive``."""
        return self.judgement.verdict

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-friendly dict."""
        return {"rows": self.rows, "calls": self.calls, "errors": self.errors,
                "judgement": self.judgement.to_dict()}

    def to_markdown(self) -> str:
        """Return the report as markdown: the counts, then the judgement's table."""
        head = (f"Replayed {self.rows} requests: {self.calls['candidate']} candidate calls "
                f"({self.errors['candidate']} errors), {self.calls['baseline']} baseline calls "
                f"({self.errors['baseline']} errors).")
        return f"{head}\n\n{self.judgement.to_markdown()}"


def _read_jsonl(path: Path) -> Any:
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except ValueError as exc:
                raise InvalidInputError("requests", "a JSON Lines file (one JSON value a line)",
                                        f"{path}:{number}: {exc}") from exc
    if records and all(isinstance(r, dict) for r in records):
        try:
            import pandas as pd  # noqa: PLC0415 - optional: rows of named fields become a frame
        except ImportError:  # pragma: no cover - the dev environment has pandas
            return records
        return pd.DataFrame.from_records(records)
    return np.asarray(records)


def _rows(requests: object) -> tuple[Callable[[int, int], Any], int]:
    """Return (slice(start, stop) -> batch, number of rows)."""
    if isinstance(requests, (str, os.PathLike)):
        path = Path(requests)
        if not path.is_file():
            raise InvalidInputError("requests", "an array, a DataFrame or a JSON Lines file",
                                    repr(str(path)))
        requests = _read_jsonl(path)
    if isinstance(requests, list) and requests and isinstance(requests[0], dict):
        records = requests
        return (lambda a, b: records[a:b]), len(records)
    iloc = getattr(requests, "iloc", None)
    if iloc is not None:
        return (lambda a, b: iloc[a:b]), len(requests)  # type: ignore[arg-type]
    try:
        array = np.asarray(requests)
    except Exception as exc:
        raise InvalidInputError("requests", "an array, a DataFrame or a JSON Lines file",
                                f"{type(requests).__name__}: {exc}") from exc
    if array.ndim == 0:
        raise InvalidInputError("requests", "one request per row", f"a scalar {array!r}")
    return (lambda a, b: array[a:b]), int(array.shape[0])


def _label_values(predictions: object, labels: Any) -> list[float]:
    p, y = np.asarray(predictions), np.asarray(labels)
    if p.dtype.kind == "f" and y.dtype.kind == "f":
        return (-np.abs(p.ravel() - y.ravel())).tolist()  # type: ignore[no-any-return]
    return (p.ravel() == y.ravel()).astype(float).tolist()  # type: ignore[no-any-return]


def replay(
    requests: object,
    candidate: Callable[..., Any],
    baseline: Callable[..., Any],
    *,
    labels: object = None,
    judge: Judge | None = None,
    batch_size: int = 1,
    score: Callable[[Any, Any], Any] | None = None,
    clock: Clock = MONOTONIC,
) -> ReplayReport:
    """Run recorded *requests* through *candidate* and *baseline* and judge them.

    Args:
        requests: an array (rows along axis 0), a pandas DataFrame, or the
            path of a JSON Lines file (objects become a DataFrame's rows).
        candidate: the model being validated (called with one batch).
        baseline: the model it should not be worse than.
        labels: the true answer per row (delayed labels), or None.
        judge: a :class:`~aiguard.typing.Judge` (default
            :func:`~aiguard.recover.default_judge`).
        batch_size: rows per call.
        score: ``score(predictions, labels)`` giving per-row values (higher
            better) instead of the default label score.
        clock: seconds, for the latency metric.

    Returns:
        A :class:`ReplayReport`.

    Raises:
        InvalidInputError: unreadable requests, or labels of another length.
        ConfigurationError: an invalid parameter.

    Example:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(300, 3))
        >>> y = (X[:, 0] > 0).astype(int)
        >>> good = lambda x: (x[:, 0] > 0).astype(int)
        >>> bad = lambda x: (x[:, 1] > 0).astype(int)
        >>> replay(X, good, good, labels=y, batch_size=10).verdict
        'pass'
        >>> replay(X, bad, good, labels=y, batch_size=10).judgement.metrics[-1].verdict
        'fail'
    """
    for argument, model in (("candidate", candidate), ("baseline", baseline)):
        if not callable(model):
            raise ConfigurationError(argument, "a callable model", model)
    size = _validate.count(batch_size, "batch_size")
    clock = validate_clock(clock)
    take, rows = _rows(requests)
    if rows == 0:
        raise InvalidInputError("requests", "at least one request", "none")
    truth = None if labels is None else np.asarray(labels)
    if truth is not None and truth.shape[:1] != (rows,):
        raise InvalidInputError("labels", f"one label per request ({rows})",
                                f"shape {truth.shape}")
    samples = Samples(rows)
    models = (baseline, candidate)
    errors = [0, 0]
    for start in range(0, rows, size):
        batch = take(start, start + size)
        for arm in (1, 0) if (start // size) % 2 else (0, 1):
            begin = clock()
            try:
                answer = models[arm](batch)
            except Exception:
                samples.record(arm, clock() - begin, error=True, output=0.0)
                errors[arm] += 1
                continue
            samples.record(arm, clock() - begin, error=False, output=summarise(answer))
            if truth is not None:
                batch_truth = truth[start:start + size]
                values = (score(answer, batch_truth) if score is not None
                          else _label_values(answer, batch_truth))
                samples.add(arm, "label", values)
    judgement = (judge or default_judge())(samples.metrics(1), samples.metrics(0))
    counts = samples.counts()
    return ReplayReport(judgement, rows, {"baseline": counts["stable"],
                                          "candidate": counts["candidate"]},
                        {"baseline": errors[0], "candidate": errors[1]})
