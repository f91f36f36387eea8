"""Optional bridges to the tools teams already run, each behind an extra.

* :mod:`aiguard.integrations.openfeature` (``aiguard[openfeature]``): an
  OpenFeature provider and hook backed by :class:`~aiguard.Flags`.
* :mod:`aiguard.integrations.prometheus` (``aiguard[prometheus]``): one
  collector exporting breakers, guards, flags, monitors, incidents and routers.
* :mod:`aiguard.integrations.otel` (``aiguard[otel]``): a span per guarded call
  and metrics through the OpenTelemetry API.
"""
