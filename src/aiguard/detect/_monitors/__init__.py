"""Live monitors fed by every guarded call (or by ``observe``), emitting deduplicated Signals.

The public names are exported from :mod:`aiguard.detect` (this package re-exports nothing).
"""
