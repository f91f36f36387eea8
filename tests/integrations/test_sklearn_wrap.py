"""aiguard.wrap around real scikit-learn estimators and Pipelines."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import aiguard as ag
from aiguard.testing import inject


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    """A small binary classification problem."""
    x, y = make_classification(n_samples=200, n_features=5, random_state=0)
    return x, y


def test_wrapped_estimator_matches_the_estimator(data: tuple[np.ndarray, np.ndarray]) -> None:
    """predict, predict_proba and decision_function give the estimator's own answers."""
    x, y = data
    model = LogisticRegression().fit(x, y)
    safe = ag.wrap(model, ag.Guard(name="lr"))
    np.testing.assert_array_equal(safe.predict(x), model.predict(x))
    np.testing.assert_allclose(safe.predict_proba(x), model.predict_proba(x))
    np.testing.assert_allclose(safe.decision_function(x), model.decision_function(x))
    assert safe.guard.last_outcome is not None
    assert safe.guard.last_outcome.served_by == "model"


def test_wrapped_estimator_passes_attributes_through(data: tuple[np.ndarray, np.ndarray]) -> None:
    """classes_, coef_, get_params, n_features_in_ and score come from the estimator."""
    x, y = data
    model = LogisticRegression(C=0.5).fit(x, y)
    safe = ag.wrap(model, ag.Guard(name="lr"))
    np.testing.assert_array_equal(safe.classes_, [0, 1])
    assert safe.get_params()["C"] == 0.5
    assert safe.n_features_in_ == 5
    np.testing.assert_array_equal(safe.coef_, model.coef_)
    assert safe.score(x, y) == model.score(x, y)
    assert safe.model is model


def test_wrapped_pipeline_serves_fallback_on_failure(data: tuple[np.ndarray, np.ndarray]) -> None:
    """A Pipeline keeps its three methods; an injected error is served by the fallback."""
    x, y = data
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    prior = np.bincount(y) / len(y)
    g = ag.Guard(name="pipe", fallback=lambda rows: np.tile(prior, (len(rows), 1)))
    safe = ag.wrap(pipe, g)
    np.testing.assert_allclose(safe.predict_proba(x), pipe.predict_proba(x))
    np.testing.assert_array_equal(safe.predict(x), pipe.predict(x))
    assert safe.named_steps["logisticregression"] is pipe.named_steps["logisticregression"]
    with inject(safe.predict_proba).raise_(RuntimeError("feature store down")):
        served = safe.predict_proba(x[:3])
    np.testing.assert_allclose(served, np.tile(prior, (3, 1)))
    assert g.last_outcome is not None
    assert (g.last_outcome.served_by, g.last_outcome.reason) == ("fallback", "error")


async def test_wrapped_pipeline_async_methods(data: tuple[np.ndarray, np.ndarray]) -> None:
    """apredict_proba on a Pipeline equals the Pipeline's predict_proba."""
    x, y = data
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    safe = ag.wrap(pipe, ag.Guard(name="pipe"))
    np.testing.assert_allclose(await safe.apredict_proba(x), pipe.predict_proba(x))
    np.testing.assert_array_equal(await safe.apredict(x), pipe.predict(x))
