"""A FastAPI service around a scikit-learn model guarded by aiguard.

Run it (from the repository root)::

    pip install "aiguard[dev]"   # or: fastapi uvicorn scikit-learn
    export AIGUARD_FLAGS_STORE=file:flags.json AIGUARD_INCIDENT_LOG=incidents.jsonl
    uvicorn --app-dir examples/fastapi_service app:app --port 8000

The same two environment variables point the CLIs at the service's state:
``aiguard flags off credit.model`` turns the model off (the fallback serves
within a second), ``aiguard incidents list`` shows the incidents it opened.

Settings (environment):
    AIGUARD_FLAGS_STORE: ``file:PATH`` of the kill switch store (default ``file:flags.json``).
    AIGUARD_INCIDENT_LOG: the incident log file (default ``incidents.jsonl``).
    AIGUARD_BREAKER_OPEN_FOR: seconds the breaker stays open (default 30).
    AIGUARD_EXAMPLE_FAULTS: ``1`` adds ``POST /faults/on`` and ``/faults/off``,
        which make the model raise (for tests and demos; never in production).
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from starlette.concurrency import run_in_threadpool

import aiguard as ag
from aiguard.testing import inject

try:  # the /metrics endpoint, only when prometheus-client is installed
    import prometheus_client
except ImportError:  # pragma: no cover - depends on the environment
    prometheus_client = None

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

KILL_SWITCH = "credit.model"
N_FEATURES = 4


class Rows(BaseModel):
    """The request: rows of features."""

    rows: list[list[float]]


def _outcome(proba: Any, outcome: ag.Outcome | None) -> dict[str, Any]:
    return {
        "proba": np.asarray(proba).tolist(),
        "served_by": None if outcome is None else outcome.served_by,
        "reason": None if outcome is None else outcome.reason,
    }


def create_app() -> FastAPI:  # noqa: C901 - the whole service in one readable function
    """Build the service from the environment (see the module docstring)."""
    store_url = os.environ.get("AIGUARD_FLAGS_STORE", "file:flags.json")
    if not store_url.startswith("file:"):
        raise SystemExit(f"AIGUARD_FLAGS_STORE: expected file:PATH, got {store_url!r}")
    log_path = Path(os.environ.get("AIGUARD_INCIDENT_LOG", "incidents.jsonl"))
    open_for = float(os.environ.get("AIGUARD_BREAKER_OPEN_FOR", "30"))

    x, y = make_classification(n_samples=500, n_features=N_FEATURES, random_state=0)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    prior = np.bincount(y) / len(y)

    def base_rate(rows: Any) -> Any:
        """The fallback: the training base rate for every row."""
        return np.tile(prior, (len(rows), 1))

    flags = ag.Flags(ag.FileStore(store_url.removeprefix("file:")), refresh=1.0,
                     declare={KILL_SWITCH: True})
    breaker = ag.CircuitBreaker(name="credit", window=20, min_calls=10, failure_rate=0.5,
                                open_for=open_for, half_open_calls=2)
    guard = ag.Guard(name="credit", kill_switch=KILL_SWITCH, flags=flags, breaker=breaker,
                     fallback=base_rate)
    model = ag.wrap(pipeline, guard)
    incidents = ag.Incidents(log=ag.IncidentLog(log_path))
    incidents.watch_guard(guard)
    incidents.watch_breaker(breaker)
    incidents.watch_flags(flags)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        incidents.flush()
        incidents.close()

    app = FastAPI(title="credit scoring, guarded by aiguard", lifespan=lifespan)
    app.state.model, app.state.guard, app.state.incidents = model, guard, incidents

    @app.post("/predict")
    def predict(body: Rows) -> dict[str, Any]:
        """Sync endpoint: FastAPI runs it in a worker thread; last_outcome is read there."""
        proba = model.predict_proba(np.asarray(body.rows))
        return _outcome(proba, guard.last_outcome)

    @app.post("/apredict")
    async def apredict(body: Rows) -> dict[str, Any]:
        """Async endpoint: the model runs in a thread, the outcome comes back with it."""
        proba, outcome = await guard.acall_with_outcome(model.predict_proba,
                                                        np.asarray(body.rows))
        return _outcome(proba, outcome)

    @app.post("/apredict-threadpool")
    async def apredict_threadpool(body: Rows) -> dict[str, Any]:
        """Async endpoint with Starlette's thread pool: hand it call_with_outcome."""
        proba, outcome = await run_in_threadpool(guard.call_with_outcome, model.predict_proba,
                                                 np.asarray(body.rows))
        return _outcome(proba, outcome)

    @app.get("/health")
    def health() -> dict[str, Any]:
        """The breaker's state and the kill switch."""
        return {"breaker": breaker.state.value, "model_on": flags.enabled(KILL_SWITCH)}

    if prometheus_client is not None:
        app.mount("/metrics", prometheus_client.make_asgi_app())

    if os.environ.get("AIGUARD_EXAMPLE_FAULTS") == "1":
        injected = inject(model).raise_(RuntimeError("injected: model server down"))

        @app.post("/faults/{state}")
        def faults(state: str) -> dict[str, bool]:
            """Turn the injected model failure on or off."""
            if state == "on" and not injected.active:
                injected.start()
            elif state == "off" and injected.active:
                injected.stop()
            return {"active": injected.active}

    return app


app = create_app()
