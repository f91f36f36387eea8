"""Drift on a real ``distributed.LocalCluster``: two worker processes, a memory limit each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from aiguard.drift import Reference

if TYPE_CHECKING:
    from collections.abc import Iterator

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

# starting two worker processes takes seconds on a loaded machine: one cluster for the module
pytestmark = pytest.mark.slow

ALL = ("ks", "cramervonmises", "anderson", "wasserstein", "energy", "psi", "kl", "chi2")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            memory_limit="1GiB",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def test_cluster_fit_and_compare_equal_the_in_memory_report(client: Any) -> None:
    """Fit and compare on two worker processes give the in-memory state and report."""
    rng = np.random.default_rng(11)
    ref = rng.normal(size=(2000, 4))
    cur = rng.normal(size=(1500, 4)) + np.array([0.0, 0.3, 0.0, 0.1])
    ref[::9, 0] = np.nan
    cur[:, 2] = np.round(cur[:, 2], 1)
    lazy_ref = Reference(da.from_array(ref, chunks=(300, 4)))
    eager_ref = Reference(ref)
    assert np.array_equal(
        lazy_ref.fitted.sorted_values, eager_ref.fitted.sorted_values, equal_nan=True
    )
    assert lazy_ref.summary == eager_ref.summary
    lazy = eager_ref.compare(da.from_array(cur, chunks=(200, 4)), methods=ALL, max_memory="600kB")
    assert lazy == eager_ref.compare(cur, methods=ALL)
    assert len(client.scheduler_info()["workers"]) == 2


def test_cluster_compares_dataframes_with_categories(client: Any) -> None:
    """A Dask DataFrame with a label column compares on the cluster as pandas does in memory."""
    rng = np.random.default_rng(12)
    ref = pd.DataFrame({"a": rng.normal(size=800), "c": rng.choice(["x", "y"], 800)})
    cur = pd.DataFrame({"a": rng.normal(0.2, 1, size=600), "c": rng.choice(["x", "z"], 600)})
    reference = Reference(ref)
    methods = ("ks", "wasserstein", "psi", "chi2")
    lazy = reference.compare(dd.from_pandas(cur, npartitions=3), methods=methods)
    assert lazy == reference.compare(cur, methods=methods)
    assert client.status == "running"
