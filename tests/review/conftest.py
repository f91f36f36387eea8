"""The review tests use the state tests' real redis-server fixture for the fleet log."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "_review_redis_fixtures", Path(__file__).parents[1] / "state" / "conftest.py")
assert _spec is not None
assert _spec.loader is not None
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

redis_server = _fixtures.redis_server
redis_url = _fixtures.redis_url
