"""Figures for people: floats in reprs and messages without binary noise.

A failure total summed from batch shares (0.3 + 0.06 + ...) is
``4.360000000000003`` as a float; people should read ``4.36``. Reprs of
value objects show floats with at most six significant digits; the values
themselves keep full precision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["attrs_repr", "figure", "readable_repr"]


def figure(value: object) -> str:
    """*value* as people read it: floats to six significant digits, the rest as ``repr``.

    Example:
        >>> figure(4.360000000000003), figure(0.1 + 0.2), figure(1e-9), figure(30.0)
        ('4.36', '0.3', '1e-09', '30.0')
        >>> figure(float("nan")), figure(3), figure("open")
        ('nan', '3', "'open'")
    """
    if isinstance(value, float):
        text = f"{value:.6g}"
        if text.lstrip("-").isdigit():
            text += ".0"  # still reads as a float: 30.0, not 30
        return text
    return repr(value)


def readable_repr(name: str, fields: Iterable[tuple[str, object]]) -> str:
    """``Name(a=1, b=4.36)`` with every float through :func:`figure`.

    Example:
        >>> readable_repr("Point", [("x", 0.1 + 0.2), ("label", "a")])
        "Point(x=0.3, label='a')"
    """
    return f"{name}({', '.join(f'{key}={figure(value)}' for key, value in fields)})"


def attrs_repr(obj: Any) -> str:
    """:func:`readable_repr` of an attrs instance, its fields in declaration order.

    Example:
        >>> import attrs
        >>> @attrs.frozen(repr=False)
        ... class Total:
        ...     failures: float
        ...     def __repr__(self) -> str:
        ...         return attrs_repr(self)
        >>> Total(0.1 + 0.2)
        Total(failures=0.3)
    """
    cls = type(obj)
    return readable_repr(cls.__name__, ((f.name, getattr(obj, f.name)) for f in attrs.fields(cls)))
