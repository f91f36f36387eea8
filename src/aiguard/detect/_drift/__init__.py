"""Implementation of :mod:`aiguard.drift` (private; import from ``aiguard.drift``).

Package map (each sub-package's ``__init__`` exports its names; modules
outside a sub-package import from the sub-package, never from its private
modules):

==================  ==========================================================
``inputs/``         user data as checked arrays: samples and labels along
                    ``axis``, typed columns of a table, samples sorted per
                    column and run through a presorted kernel by NaN policy
``rank/``           KS, Cramér-von Mises, Anderson-Darling, Wasserstein,
                    energy: one merge of two sorted samples per feature (the
                    general and the tie-free path), scipy's p-values
                    vectorised (Smirnov series, Pelz-Good)
``binned/``         bin edges fitted on the reference, bin counts, and PSI,
                    Jensen-Shannon, KL, Hellinger (and Evidently's variants)
``discrete/``       ``chi2`` on categories, ``ztest`` on proportions
``multivariate/``   ``mmd`` over all features at once
``reference/``      :class:`~aiguard.drift.Reference` and its frozen fitted
                    state, ``compare`` (in memory or in blocks of features),
                    save / load, the streaming accumulator
``report/``         :class:`~aiguard.drift.DriftReport`, its HTML and SVG,
                    and ``aiguard drift`` (the command line)
``scale/``          the memory budget, sources read a block of columns at a
                    time (arrays, ``.npy`` and Parquet files, iterators),
                    memory-map page release, the progress bar
``dask/``           fit and compare of Dask arrays and DataFrames as Dask
                    graphs (chunks to accumulator state, tree-reduced); Dask
                    is imported only when given a Dask collection
==================  ==========================================================

Shared by all of them: ``_result`` (:class:`~aiguard.drift.DriftResult`,
:class:`~aiguard.drift.DriftWarning`, the decision per feature),
``_corrections`` (multiple testing), ``_checks`` (parameter checks),
``_workers`` (threads over blocks of features) and ``_types``.

Conventions (DESIGN principle 6, scipy's):

* Samples run along ``axis`` (default 0), features along the other axis. A 1-D
  input is one feature and gives scalar results; a 2-D input gives arrays of
  shape ``(n_features,)``.
* Internally every sample is a 2-D float64 array ``(n_samples, n_features)``.
  Sorted samples are kept column-major (Fortran order) so that a column is one
  contiguous block.
* ``inf`` is never a valid observation (an ``InvalidInputError``); ``NaN``
  marks a missing value and is handled by ``nan_policy``:

  - ``"propagate"``: a feature with a NaN in either sample gets a NaN statistic
    and p-value (like scipy), silently.
  - ``"omit"``: NaNs are dropped feature by feature (the samples become ragged;
    NaN-free features still take the vectorised path). A feature left with too
    few observations gets NaN and one ``DriftWarning`` per call.
  - ``"raise"``: any NaN raises ``InvalidInputError`` naming the argument.

* ``pvalue`` is ``None`` for distances that have no test (Wasserstein, energy),
  and NaN for a feature whose test is undefined (too few samples, propagated
  NaN). ``drifted`` is ``False`` for such features.
"""
