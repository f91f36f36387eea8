"""Every docstring example in the package runs and prints what it says."""

from __future__ import annotations

import doctest
import importlib
import linecache
import pkgutil

import pytest

import aiguard


def _modules() -> list[str]:
    names = [aiguard.__name__]
    for info in pkgutil.walk_packages(aiguard.__path__, prefix="aiguard."):
        if info.name.endswith("_plugin"):
            continue
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name: str) -> None:
    """The module's doctests pass."""
    try:
        module = importlib.import_module(name)
    except ImportError as exc:  # an optional extra that is not installed
        pytest.skip(f"{name}: {exc}")
    # Python 3.13's doctest resets a pdb per docstring, and that re-checks every file in
    # linecache; after the rest of the suite the cache is large and this leg took minutes.
    linecache.clearcache()
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
