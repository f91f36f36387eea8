"""Every Python example of README.md and docs/ runs, page by page, so the docs cannot rot.

Each page's ```python blocks run in order in one namespace (a later block continues
an earlier one), in a temporary working directory. ```pycon blocks are interactive
sessions: they run as doctests in the same namespace, so their printed output is
checked too. Functions named ``test_*`` that a page defines are called afterwards
(``tmp_path`` is the only argument they may ask for).

The examples use a few illustrative names (``model``, ``X``, ``popular_items``, ...)
that a reader's own code provides; ``_prelude`` defines small stand-ins for them.

A block that cannot run here is skipped only by an HTML comment on the line before
it, ``<!-- docs-test: skip (reason) -->``; the reason is reported by
``test_marked_block_is_skipped``. Each page must run at least the number of blocks
``MIN_RUN`` gives it (a page not listed: at least one if it has python or pycon
blocks), so a page cannot pass with its examples all skipped or removed, and a
block fenced as ``py``, ``python3``, ``Python``... (which would silently not run)
is refused. The fleet page's Redis URL is pointed at a local
``redis-server`` started for the test.
"""

from __future__ import annotations

import doctest
import inspect
import logging
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest

import aiguard as ag

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[1]
# docs/testing.md runs as a pytest module of its own in tests/testing/test_docs.py
OWN_TEST = {"docs/testing.md"}
DOCS = sorted(path.relative_to(ROOT).as_posix() for path in (ROOT / "docs").rglob("*.md"))
PAGES = [page for page in ["README.md", *DOCS] if page not in OWN_TEST]
FENCE = re.compile(r"^```([\w-]*)[ \t]*$")
SKIP = re.compile(r"^<!-- docs-test: skip \((?P<reason>.+)\) -->$")
MARKER = "docs-test:"
RUN = ("python", "pycon")
# fence languages a reader takes for Python but this test would not run
PYTHON_LIKE = re.compile(r"^(py|py3|python\d*|pycon\d*|ipython\d*)$", re.IGNORECASE)
# Blocks each page runs at least; raise a count when a page gains examples. A page not
# listed runs at least one block if it has any python or pycon block.
MIN_RUN = {
    "README.md": 2,
    "docs/contain/breaker.md": 6,
    "docs/contain/checks-and-fallbacks.md": 6,
    "docs/contain/flags.md": 7,
    "docs/contain/fleet.md": 4,
    "docs/contain/guard.md": 2,
    "docs/contain/limits.md": 8,
    "docs/detect/drift.md": 4,
    "docs/integrations/serving.md": 5,
    "docs/integrations/otel.md": 3,
    "docs/integrations/prometheus.md": 3,
    "docs/tutorial.md": 9,
    "docs/detect/overview.md": 2,
    "docs/contain/overview.md": 2,
    "docs/recover/overview.md": 2,
    "docs/review/overview.md": 2,
    "docs/integrations/logging.md": 3,
}
# the fleet page shows the production URL; the test runs it against a local redis-server
REDIS_IN_DOCS = "redis://redis.internal:6379/0"


@dataclass(frozen=True)
class Block:
    """One fenced code block of a markdown page."""

    page: str
    line: int  # 1-based line of the block's first code line
    lang: str
    source: str
    skip: str | None

    @property
    def where(self) -> str:
        """``page:line`` of the block."""
        return f"{self.page}:{self.line}"


def blocks(page: str, text: str | None = None) -> list[Block]:
    """The fenced code blocks of ``page`` (its file, or ``text``), with their skip markers."""
    if text is None:
        text = (ROOT / page).read_text(encoding="utf-8")
    lines = text.splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opened = FENCE.match(lines[i])
        if opened is None:
            i += 1
            continue
        start = i + 1
        end = start
        while end < len(lines) and lines[end] != "```":
            end += 1
        before = next((text for text in reversed(lines[:i]) if text.strip()), "")
        marker = SKIP.match(before.strip())
        source = "\n".join(lines[start:end]) + "\n"
        skip = marker.group("reason") if marker else None
        found.append(Block(page, start + 1, opened.group(1), source, skip))
        i = end + 1
    return found


def runnable(page: str) -> list[Block]:
    """The blocks of ``page`` that this test runs or skips."""
    return [block for block in blocks(page) if block.lang in RUN]


SKIPPED = [block for page in PAGES for block in runnable(page) if block.skip]


def must_run(page: str, found: list[Block]) -> int:
    """How many of ``page``'s blocks must run: ``MIN_RUN``, else one if it has any to run."""
    if page in MIN_RUN:
        return MIN_RUN[page]
    return int(any(block.lang in RUN for block in found))


class _Model:
    """A fitted binary classifier: a probability per row, NaN where a feature is NaN."""

    classes_ = np.array([0, 1])
    n_features_in_ = 3

    def predict(self, features: Any) -> np.ndarray:
        x = np.asarray(features, dtype=float)
        return 1 / (1 + np.exp(-x.sum(axis=-1)))

    def predict_proba(self, features: Any) -> np.ndarray:
        p = self.predict(features)
        return np.column_stack([1 - p, p])


class _ModelServer:
    """A remote model answering item ids for a user id."""

    def predict(self, user_id: int) -> list[int]:
        return [user_id % 7, user_id % 11]


class _LLM:
    """A language model client."""

    async def generate(self, question: str) -> str:
        return f"an answer to {question!r}"


class _ReplicaPool:
    """Embedding replicas."""

    async def embed(self, text: str) -> list[float]:
        return [float(len(text)), 0.0]


def _prelude() -> dict[str, Any]:
    """Stand-ins for the names the examples take from the reader's own code."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(8, 3))
    features[:3, 0] = np.nan  # three rows the model scores as NaN

    def popular_items(features: Any = None) -> Any:
        """Rule-based answer: 0.5 per row of a batch, bestsellers without one."""
        if features is None:
            return [1, 2]
        return np.full(len(features), 0.5)

    def model_recommend(user_id: str) -> list[str]:
        """The personalised model's answer for a user."""
        return [f"for-{user_id}"]

    def canned_answer(question: str) -> str:
        """The chatbot's fallback."""
        return "I'm having trouble, here is the FAQ"

    def metrics_exporter(event: ag.BreakerEvent) -> None:
        """A listener that would export breaker events."""

    batches = [
        pd.DataFrame({
            "amount": rng.lognormal(3, 1, 500),
            "channel": rng.choice(["web", "app", "store", "kiosk"], 500),
        })
        for _ in range(3)
    ]  # request batches shaped like the drift page's training frame
    return {
        "__name__": "docs_example",
        "np": np,
        "ag": ag,
        "model": _Model(),
        "yesterdays_model": _Model(),
        "X": features,
        "popular_items": popular_items,
        "model_recommend": model_recommend,
        "model_server": _ModelServer(),
        "canned_answer": canned_answer,
        "llm": _LLM(),
        "replica_pool": _ReplicaPool(),
        "log": logging.getLogger("docs_example"),
        "metrics_exporter": metrics_exporter,
        "user_id": "user-42",
        "timeline": [],
        "batches": batches,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def local_redis() -> Iterator[str]:
    """A throw-away ``redis-server`` on loopback, without persistence."""
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server binary not found (apt-get install redis-server)")
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="aiguard-docs-redis-") as directory:
        server = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", directory],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/0"
        try:
            client = redis.Redis.from_url(url)
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
            client.close()
            yield url
        finally:
            server.terminate()
            server.wait(timeout=10)


def _run_doctest(block: Block, namespace: dict[str, Any]) -> None:
    parser = doctest.DocTestParser()
    test = parser.get_doctest(block.source, namespace, block.where, block.page, block.line - 1)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    runner.run(test, out=report.append, clear_globs=False)
    assert runner.failures == 0, "".join(report)


def _call_page_tests(namespace: dict[str, Any], before: set[str], tmp_path: Path) -> list[str]:
    called = []
    for name, function in list(namespace.items()):
        if not name.startswith("test_") or name in before or not inspect.isfunction(function):
            continue
        parameters = inspect.signature(function).parameters
        assert set(parameters) <= {"tmp_path"}, f"{name} asks for {set(parameters)}"
        kwargs = {}
        if "tmp_path" in parameters:
            kwargs["tmp_path"] = tmp_path / name
            kwargs["tmp_path"].mkdir()
        function(**kwargs)
        called.append(name)
    return called


def _closables(namespace: dict[str, Any], found: list[Any]) -> None:
    """Note the flag sets and fleet breakers in ``namespace``, before a later block rebinds them."""
    from aiguard.state import FleetBreaker

    for value in namespace.values():
        if isinstance(value, (ag.Flags, FleetBreaker)) and all(value is not f for f in found):
            found.append(value)


def _close(namespace: dict[str, Any], found: list[Any]) -> None:
    """Stop the background threads and the global provider the examples started."""
    _closables(namespace, found)
    for value in found:
        value.close()
    if "AiguardProvider" in namespace:
        from openfeature import api

        api.clear_providers()


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(
    page: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    record_property: Any,
) -> None:
    """The page's python blocks run in order in one namespace; its pycon sessions pass."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    namespace = _prelude()
    before = set(namespace)
    ran = 0
    closables: list[Any] = []
    try:
        for block in runnable(page):
            if block.skip:
                print(f"skipped {block.where}: {block.skip}")
                record_property(f"skipped {block.where}", block.skip)
                continue
            source = block.source
            if REDIS_IN_DOCS in source:
                source = source.replace(REDIS_IN_DOCS, request.getfixturevalue("local_redis"))
            if block.lang == "pycon":
                _run_doctest(block, namespace)
            else:
                # leading newlines keep the markdown's line numbers in tracebacks
                exec(compile("\n" * (block.line - 1) + source, str(ROOT / page), "exec"), namespace)
            _closables(namespace, closables)
            ran += 1
        called = _call_page_tests(namespace, before, tmp_path)
    finally:
        _close(namespace, closables)
    print(f"{page}: {ran} blocks run, page tests called: {called}")
    assert ran >= must_run(page, blocks(page)), f"{page}: {ran} blocks ran, fewer than expected"


if SKIPPED:  # one visible skip per marked block, with its reason, in pytest's summary

    @pytest.mark.parametrize("block", SKIPPED, ids=[block.where for block in SKIPPED])
    def test_marked_block_is_skipped(block: Block) -> None:
        """A block marked ``docs-test: skip`` is reported with its reason."""
        pytest.skip(f"{block.where}: {block.skip}")


def test_every_marker_is_understood() -> None:
    """Each ``docs-test:`` comment is a well-formed skip right before a python or pycon block."""
    for page in PAGES:
        lines = (ROOT / page).read_text(encoding="utf-8").splitlines()
        markers = [n for n, text in enumerate(lines, 1) if MARKER in text]
        skipped = {block.where for block in runnable(page) if block.skip}
        assert len(markers) == len(skipped), f"{page}: a docs-test marker not before a code block"
        for n in markers:
            assert SKIP.match(lines[n - 1].strip()), f"{page}:{n}: malformed docs-test marker"


def test_the_docs_have_examples() -> None:
    """The pages hold many examples and only a few are skipped."""
    total = [block for page in PAGES for block in runnable(page)]
    assert len(total) >= 35
    assert len(SKIPPED) <= 3


def test_every_page_in_min_run_exists() -> None:
    """MIN_RUN names only pages this test runs, so a renamed page cannot escape its count."""
    assert set(MIN_RUN) <= set(PAGES)
    assert all(count >= 1 for count in MIN_RUN.values())


def test_python_blocks_are_fenced_so_they_run() -> None:
    """No page fences Python as ``py``, ``python3``, ``Python``...: those blocks would not run."""
    misfenced = [
        block.where
        for page in [*PAGES, *OWN_TEST]
        for block in blocks(page)
        if PYTHON_LIKE.match(block.lang) and block.lang not in RUN
    ]
    assert misfenced == []


def test_a_page_with_every_block_skipped_must_still_run_one() -> None:
    """An unlisted page whose python blocks are all skipped still owes one run block."""
    text = "# Page\n\n<!-- docs-test: skip (needs a GPU) -->\n```python\nx = 1\n```\n"
    found = blocks("docs/new-page.md", text)
    assert [block.skip for block in found] == ["needs a GPU"]
    assert must_run("docs/new-page.md", found) == 1
    assert must_run("docs/prose-only.md", blocks("docs/prose-only.md", "# Page\n\nText.\n")) == 0
    assert must_run("docs/contain/breaker.md", []) == MIN_RUN["docs/contain/breaker.md"]


def test_a_misfenced_block_is_recognised() -> None:
    """``py`` and ``Python`` fences match the refused pattern, ``pytb`` and ``text`` do not."""
    langs = [block.lang for block in blocks("p.md", "```py\n1\n```\n```Python\n2\n```\n")]
    assert [bool(PYTHON_LIKE.match(lang)) for lang in [*langs, "pytb", "text", "python"]] == [
        True, True, False, False, True,
    ]
