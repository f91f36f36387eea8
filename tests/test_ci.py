"""The CI script, the README and pyproject.toml agree with one another.

``.ci/run`` runs the README's two commands (the demo on the runtime install
alone, the test command in the gate), knows every Python that pyproject's
classifiers list, and runs the suite on the oldest runtime dependencies
pyproject declares (``.ci/oldest.txt``); these tests keep the three files from
drifting apart.
"""

from __future__ import annotations

import re

from tests.project_files import ROOT, pyproject, readme_commands

CI = ROOT / ".ci" / "run"
OLDEST = ROOT / ".ci" / "oldest.txt"


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def test_ci_runs_the_readme_test_command() -> None:
    """The README's second command runs the tests exactly as the CI gate does."""
    install, test = readme_commands()[1].split(" && ")
    assert install == "pip install -e '.[dev]'"
    assert test.startswith("python -m pytest ")
    assert test in [line.strip() for line in CI.read_text(encoding="utf-8").splitlines()]


def test_ci_runs_the_readme_first_command_on_the_runtime_install() -> None:
    """The README's first command, the demo, runs in CI on a venv without the dev extra."""
    install, demo = readme_commands()[0].split(" && ")
    assert install == "pip install -e ."
    text = CI.read_text(encoding="utf-8")
    assert 'make_venv .ci-venv-demo "$gate_python" -e .\n' in text
    assert f".ci-venv-demo/bin/{demo} --out" in text
    assert 'timed "demo leg" demo_leg' in text


def test_ci_tests_every_python_the_classifiers_list() -> None:
    """SUPPORTED in .ci/run is requires-python's floor up to the newest classifier."""
    project = pyproject()["project"]
    listed = sorted(
        (c.rsplit(" :: ", 1)[1] for c in project["classifiers"]
         if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)),
        key=_release,
    )
    supported = re.search(r"^SUPPORTED=\(([^)]*)\)", CI.read_text(encoding="utf-8"), re.MULTILINE)
    assert supported is not None
    assert supported.group(1).split() == listed
    assert project["requires-python"] == f">={listed[0]}"
    oldest_on = re.search(r"^OLDEST_ON=(\S+)", CI.read_text(encoding="utf-8"), re.MULTILINE)
    assert oldest_on is not None
    assert oldest_on.group(1) == listed[0]


def test_oldest_constraints_pin_the_declared_floors() -> None:
    """.ci/oldest.txt pins each runtime and Dask-extra dependency at the release its floor names."""
    project = pyproject()["project"]
    floors = {}
    for requirement in [*project["dependencies"], *project["optional-dependencies"]["dask"]]:
        name, floor = re.fullmatch(  # an extra's requirement may name extras: dask[array]
            r"([A-Za-z0-9._-]+)(?:\[[\w,]+\])?>=([\d.]+)", requirement
        ).groups()
        floors[name.lower()] = floor
    pins = {}
    for line in OLDEST.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, pin = line.split("==")
            pins[name.strip().lower()] = pin.strip()
    assert set(pins) == set(floors)
    for name, floor in floors.items():
        pinned, wanted = _release(pins[name]), _release(floor)
        # the floor's own release, or its first installable patch (scipy 1.11.0 was yanked)
        assert pinned[: len(wanted)] == wanted, (name, pins[name], floor)
        assert all(part <= 1 for part in pinned[len(wanted):]), (name, pins[name], floor)


def test_ci_files_hold_no_machine_paths() -> None:
    """The CI script finds interpreters by name and `pyenv root`, never by a path of one machine."""
    for path in (CI, OLDEST):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if n == 1 and line.startswith("#!"):
                continue  # the shebang's /usr/bin/env is the portable way
            assert re.search(r"(?<![\w.$)])/(root|home|work|opt|usr|tmp)/", line) is None, (path, n)
