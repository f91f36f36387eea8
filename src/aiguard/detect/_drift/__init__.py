"""Implementation of :mod:`aiguard.drift` (private; import from ``aiguard.drift``).

``_common`` holds what every statistic shares: input conversion and checks,
NaN policies, sorted samples, multiple-testing corrections and the
:class:`~aiguard.drift.DriftResult` value object. ``_continuous`` computes the
rank and distance statistics (KS, Cramér-von Mises, Anderson-Darling,
Wasserstein, energy) from per-column sorted samples; ``_discrete`` the tests on
categories and proportions (chi-squared, z-test); ``_mmd`` the multivariate
kernel test.
"""
