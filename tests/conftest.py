"""Load aiguard's own pytest plugin after coverage has started.

The plugin is registered for users through the ``pytest11`` entry point, which
pytest imports before pytest-cov starts measuring; ``-p no:aiguard`` in the
project's addopts turns that early load off and this line loads the same
fixtures late, so the package's top-level lines are measured too.
"""

from hypothesis import settings

pytest_plugins = ["aiguard.testing._plugin"]

# No per-example deadline: a deadline is a timed assertion, and CI machines are shared.
settings.register_profile("aiguard", deadline=None)
settings.load_profile("aiguard")
