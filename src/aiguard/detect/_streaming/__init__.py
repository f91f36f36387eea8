"""Streaming change detectors: river 0.26's detectors, vectorised, plus CUSUM.

Every detector here satisfies :class:`aiguard.typing.Detector`; the public
names are exported from :mod:`aiguard.detect`.
"""

from aiguard.detect._streaming._adwin import ADWIN
from aiguard.detect._streaming._base import StreamingDetector
from aiguard.detect._streaming._cusum import CUSUM
from aiguard.detect._streaming._ddm import DDM, EDDM
from aiguard.detect._streaming._hddm import HDDM_A, HDDM_W
from aiguard.detect._streaming._kswin import KSWIN
from aiguard.detect._streaming._pagehinkley import PageHinkley

__all__ = [
    "ADWIN",
    "CUSUM",
    "DDM",
    "EDDM",
    "HDDM_A",
    "HDDM_W",
    "KSWIN",
    "PageHinkley",
    "StreamingDetector",
]
