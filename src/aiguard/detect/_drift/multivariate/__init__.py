"""Multivariate tests over all features at once: the maximum mean discrepancy (``mmd``)."""

from aiguard.detect._drift.multivariate._mmd import mmd

__all__ = ["mmd"]
