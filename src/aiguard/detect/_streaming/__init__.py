"""Streaming change detectors: river 0.26's detectors, vectorised, plus CUSUM.

Every detector here satisfies :class:`aiguard.typing.Detector`; the public
names are exported from :mod:`aiguard.detect` (this package re-exports nothing).
"""
