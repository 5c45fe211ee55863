"""What every pytest run in this repository shares: hypothesis profiles, the browser, markers.

Every test folder of the repository runs under it (tests/ now, any examples' tests later).
Fixtures of the reference clinic live in tests/conftest.py.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# -- hypothesis ---------------------------------------------------------------------------------
# "ci": reproducible (derandomize, no example database) and modest, so the suite stays fast.
# The strategies themselves are never narrowed for speed; only the number of examples is.
settings.register_profile(
    "ci",
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,  # argon2 (even FAST_HASH) and a cold import can exceed 200 ms on a busy box
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# -- browser (pytest-playwright) ----------------------------------------------------------------
# Extends the plugin's own fixture, so its command-line flags (--headed, --slowmo) keep working.

@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Chromium from Debian, never a downloaded one, kept off the internet: as the harness."""
    from clinic2fa.scenarios.targets.browser import chromium  # playwright only when a test asks

    return {**browser_type_launch_args, "executable_path": chromium.executable(),
            "args": chromium.ARGS}


# -- markers: `slow` and `browser`, declared in pyproject.toml ---------------------------------
# Marked here rather than test by test, so a new test that takes the browser, or runs the whole
# catalogue or a self-check, is marked without anyone remembering to.

BROWSER_FIXTURES = {"browser", "page", "context", "browser_type"}
SLOW_FILES = {"test_defects_check.py", "test_explore.py", "test_declared_policy.py",
              "test_plugin_in_a_project.py", "test_load.py", "test_load_staff.py"}
SLOW_NAMES = ("whole_catalogue", "catalogue_passes", "over_http_the_catch")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & BROWSER_FIXTURES or "browser" in item.path.name:
            item.add_marker(pytest.mark.browser)
        if item.path.name in SLOW_FILES or any(n in item.name for n in SLOW_NAMES):
            item.add_marker(pytest.mark.slow)
