"""A Prometheus collector over aiguard's counters (extra ``prometheus``).

See ``docs/integrations/prometheus.md`` for the metric table.

Example:
    >>> from aiguard.integrations.prometheus import AiguardCollector
    >>> AiguardCollector.__name__
    'AiguardCollector'
"""

from __future__ import annotations

from aiguard.integrations._prometheus import DEFAULT_BUCKETS, AiguardCollector

__all__ = ["DEFAULT_BUCKETS", "AiguardCollector"]
