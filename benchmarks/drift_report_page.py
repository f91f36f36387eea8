"""Render a sample drift report and screenshot it in headless Chromium.

    python benchmarks/drift_report_page.py [--out DIR]

Writes ``DIR/drift_report.html`` (a self-contained page) and, when Debian's
``chromium`` is installed, ``DIR/drift_report.png`` taken with networking off,
so a person can look at what users will see.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import numpy as np

from aiguard.drift import Reference


def sample_report_page(out: Path, methods: tuple[str, ...]) -> Path:
    rng = np.random.default_rng(7)
    n_ref, n_cur = 20_000, 8_000
    ref = {
        "age": rng.normal(40, 12, n_ref),
        "income": rng.lognormal(10, 0.6, n_ref),
        "sessions": rng.poisson(3, n_ref).astype(float),
        "channel": rng.choice(["web", "ios", "android", "store"], n_ref, p=[0.5, 0.2, 0.2, 0.1]),
        "basket": rng.gamma(2.0, 30.0, n_ref),
    }
    cur = {
        "age": rng.normal(40, 12, n_cur),
        "income": rng.lognormal(10.4, 0.6, n_cur),  # drifted: incomes rose
        "sessions": rng.poisson(3, n_cur).astype(float),
        "channel": rng.choice(
            ["web", "ios", "android", "store", "kiosk"], n_cur, p=[0.35, 0.2, 0.2, 0.1, 0.15]
        ),  # drifted: a new channel
        "basket": rng.gamma(2.0, 30.0, n_cur),
    }
    cur["age"][:400] = np.nan
    report = Reference(ref).compare(cur, methods=methods)
    path = out / "drift_report.html"
    report.to_html(path)
    return path


def screenshot(page: Path, png: Path) -> bool:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("chromium not found: apt-get install -y chromium")
        return False
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--screenshot={png}",
        "--window-size=1200,2000",
        page.resolve().as_uri(),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return png.exists()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="/tmp", help="output directory")
    parser.add_argument("--methods", nargs="+", default=["ks", "chi2", "psi", "jensenshannon"])
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    page = sample_report_page(out, tuple(args.methods))
    print(f"wrote {page}")
    if screenshot(page, out / "drift_report.png"):
        print(f"wrote {out / 'drift_report.png'}")


if __name__ == "__main__":
    main()
