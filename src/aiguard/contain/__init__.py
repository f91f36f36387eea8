"""Phase 2, containment: stop the bleeding.

Circuit breakers, output checks, fallback ladders, kill switches, rate limits,
bulkheads, timeouts, retries, hedging, and the :class:`~aiguard.Guard` pipeline
that composes them around a predict call.
"""
