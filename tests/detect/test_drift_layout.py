"""The drift package's public names and its map of sub-packages stay as documented."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

from aiguard.detect import _drift

SUBPACKAGES = sorted(info.name for info in pkgutil.iter_modules(_drift.__path__) if info.ispkg)


def test_package_map_names_every_subpackage() -> None:
    """The map in the package docstring lists exactly the sub-packages that exist."""
    mapped = sorted(re.findall(r"^``(\w+)/``", _drift.__doc__ or "", flags=re.MULTILINE))
    assert mapped == SUBPACKAGES
    assert SUBPACKAGES == [
        "binned",
        "dask",
        "discrete",
        "inputs",
        "multivariate",
        "rank",
        "reference",
        "report",
        "scale",
    ]


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_subpackage_exports_resolve(name: str) -> None:
    """Every name a sub-package exports exists and is defined in one of its own modules."""
    package = importlib.import_module(f"{_drift.__name__}.{name}")
    assert package.__all__ == sorted(package.__all__, key=lambda n: (not n.isupper(), n))
    for export in package.__all__:
        value = getattr(package, export)
        if inspect.isfunction(value) or inspect.isclass(value):
            assert value.__module__.startswith(f"{package.__name__}."), (export, value.__module__)
