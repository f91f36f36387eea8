"""The real redis-server fixtures of tests/state, shared with the recovery tests (no fake Redis)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_SPEC = importlib.util.spec_from_file_location(
    "_aiguard_state_conftest", Path(__file__).parents[1] / "state" / "conftest.py")
assert _SPEC is not None
assert _SPEC.loader is not None
_STATE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_STATE)

redis_server = _STATE.redis_server
redis_url = _STATE.redis_url
