"""OpenTelemetry spans and metrics for a guard (extra ``otel``).

See ``docs/integrations/otel.md``.

Example:
    >>> from aiguard.integrations.otel import instrument
    >>> instrument.__name__
    'instrument'
"""

from __future__ import annotations

from aiguard.integrations._otel import Instrumentation, instrument

__all__ = ["Instrumentation", "instrument"]
