"""Drift statistics (stub, being implemented)."""
