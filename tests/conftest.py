"""Load aiguard's own pytest plugin after coverage has started.

The plugin is registered for users through the ``pytest11`` entry point, which
pytest imports before pytest-cov starts measuring; ``-p no:aiguard`` in the
project's addopts turns that early load off and this line loads the same
fixtures late, so the package's top-level lines are measured too.
"""

pytest_plugins = ["aiguard.testing._plugin"]
