"""Exact event counters shared by threads: :func:`itertools.count`, read without consuming.

``next()`` on an :func:`itertools.count` is one C call that runs no Python
code, so under the interpreter lock no increment is lost between threads,
where ``self.n += 1`` (a read, an add and a write) is only safe as long as the
interpreter does not switch threads between them. It costs the same as the
attribute increment. :func:`peek` reads the count from its ``repr`` (a
counter has no public way to be read without taking a value).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import itertools

__all__ = ["peek"]


def peek(counter: itertools.count[int]) -> int:
    """Return the next value *counter* would give (the number of ``next()`` calls from 0).

    Example:
        >>> import itertools
        >>> calls = itertools.count()
        >>> next(calls), next(calls), peek(calls), peek(calls)
        (0, 1, 2, 2)
    """
    return int(repr(counter)[6:-1])
