"""Debian's Chromium under Playwright: where it is and the flags that keep it off the internet.

The repository's own browser tests launch it the same way (conftest.py's
`browser_type_launch_args` reads these). Nothing here ever downloads a browser.
"""

from __future__ import annotations

import importlib.util
import os
from typing import TYPE_CHECKING

from clinic2fa.scenarios.errors import UsageError

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

# The real binary first: /usr/bin/chromium is a wrapper script that prints a harmless warning.
EXECUTABLES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
EXTRA = "pip install 'clinic2fa[browser]'"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def require_playwright() -> None:
    """Playwright comes with an extra: without it, one line that says which (exit 2)."""
    if importlib.util.find_spec("playwright") is None:
        raise UsageError(f"the browser target needs Playwright, which is not installed: {EXTRA}")


def executable(chosen: str | None = None) -> str:
    """The Chromium to launch: the config's, else Debian's; UsageError when there is none."""
    for path in ((chosen,) if chosen else EXECUTABLES):
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    where = chosen or " or ".join(EXECUTABLES)
    raise UsageError(f"no Chromium at {where}: install Debian's (apt-get install chromium; "
                     "`make` does it); the harness never downloads a browser")


def launch(playwright: Playwright, chosen: str | None = None) -> Browser:
    """One headless Chromium for the whole run."""
    return playwright.chromium.launch(executable_path=executable(chosen), args=ARGS)
