"""Where shared state lives: memory (default), a file, the environment, Redis.

Flag stores (:class:`MemoryStore`, :class:`FileStore`, :class:`EnvStore`,
:class:`RedisStore`) hold kill switches and rollouts; breaker boards
(:class:`MemoryBoard`, :class:`FileBoard`, or a :class:`RedisStore`) let the
replicas of a fleet share a circuit breaker's verdict (:func:`share_breaker`).
"""

from aiguard.state._boards import BreakerBoard, FileBoard, MemoryBoard
from aiguard.state._env import EnvStore
from aiguard.state._fleet import FleetBreaker, FleetRule, share_breaker
from aiguard.state._redis import RedisStore
from aiguard.state._stores import FileStore, MemoryStore

__all__ = [
    "BreakerBoard",
    "EnvStore",
    "FileBoard",
    "FileStore",
    "FleetBreaker",
    "FleetRule",
    "MemoryBoard",
    "MemoryStore",
    "RedisStore",
    "share_breaker",
]
