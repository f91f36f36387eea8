"""OpenFeature both ways (extra ``openfeature``).

Read aiguard flags through OpenFeature (:class:`AiguardProvider`), and drive
aiguard's kill switches from any OpenFeature provider (:class:`OpenFeatureStore`).

Example:
    >>> from aiguard.integrations.openfeature import AiguardProvider, OpenFeatureStore
    >>> AiguardProvider.__name__, OpenFeatureStore.__name__
    ('AiguardProvider', 'OpenFeatureStore')
"""

from __future__ import annotations

from aiguard.integrations._openfeature import AiguardProvider, OpenFeatureStore

__all__ = ["AiguardProvider", "OpenFeatureStore"]
