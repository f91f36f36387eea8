"""Drift on Dask collections: fit and compare as Dask graphs (the ``aiguard[dask]`` extra).

``_collections`` recognises a Dask array or DataFrame without importing
Dask (``import aiguard`` never does) and cuts it into row chunks;
``_fit`` fits a reference from sorted chunks merged in a tree; ``_compare``
maps each chunk to an :class:`~aiguard.drift.Accumulator`'s state per block
of features, reduces them in a tree and computes the statistics on a
worker, so that only a few numbers per feature reach the client.
"""

from aiguard.detect._drift.dask._collections import is_dask

__all__ = ["is_dask"]
