"""Tests on categories and proportions: ``chi2`` (homogeneity) and ``ztest`` (binary)."""

from aiguard.detect._drift.discrete._homogeneity import chi2, chi2_table, ztest

__all__ = ["chi2", "chi2_table", "ztest"]
