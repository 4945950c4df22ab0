"""Draw docs/figures/report.png: the page ``numconv report`` writes, as headless Chromium shows it.

    python scripts/make_report_screenshot.py           # trains LeNet-5 for 4 epochs on the bundled sample (~1 min)

The run is ``numconv train --epochs 4 --seed 0`` on the bundled Fashion-MNIST sample, in a temporary
folder; the page is opened from its file:// URL in Debian's chromium (driven by playwright, which never
downloads a browser here) and the whole page is captured, then scaled to 900 pixels wide.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

OUTPUT = os.path.join(REPO, "docs", "figures", "report.png")
CHROMIUM = os.environ.get("NUMCONV_CHROMIUM", "/usr/bin/chromium")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"]


def screenshot(page_path: str, png_path: str, width: int = 1100) -> None:
    """Capture the whole page at ``page_path`` as it renders in headless Chromium."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="numconv-chromium-")
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                           args=BROWSER_ARGS, viewport={"width": width, "height": 900})
            try:
                page = context.new_page()
                page.goto(Path(page_path).resolve().as_uri(), wait_until="load")
                page.screenshot(path=png_path, full_page=True)
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def main() -> int:
    from PIL import Image

    from numconv import cli

    work = tempfile.mkdtemp(prefix="numconv-report-")
    here = os.getcwd()
    os.chdir(work)  # so the page names the run folder as "runs/lenet5-sample", not a temporary path
    try:
        run = os.path.join("runs", "lenet5-sample")
        if cli.main(["train", "--epochs", "4", "--seed", "0", "--no-progress", "--out", run]) != 0:
            return 1
        if cli.main(["report", run]) != 0:
            return 1
        raw = os.path.join(work, "page.png")
        screenshot(os.path.join(run, "report.html"), raw)
        with Image.open(raw) as picture:
            scale = 900 / picture.width
            small = picture.convert("RGB").resize((900, round(picture.height * scale)), Image.Resampling.LANCZOS)
            small.quantize(256, dither=Image.Dither.NONE).save(OUTPUT, optimize=True)  # a palette: 3x smaller
        print(f"wrote {OUTPUT} ({os.path.getsize(OUTPUT) / 1e3:,.0f} kB)")
    finally:
        os.chdir(here)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
