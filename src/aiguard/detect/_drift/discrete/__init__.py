"""Tests on categories and proportions: ``chi2`` (homogeneity) and ``ztest`` (binary)."""

from aiguard.detect._drift.discrete._chi2 import chi2, chi2_table
from aiguard.detect._drift.discrete._ztest import ztest

__all__ = ["chi2", "chi2_table", "ztest"]
