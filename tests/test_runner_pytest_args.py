"""The runner's pytest stays on its own on every pytest 8 and 9 (make wheel-check runs it on 8)."""

from __future__ import annotations

from importlib.metadata import entry_points
from itertools import pairwise

from clinic2fa.scenarios.running.command import RunOptions, pytest_args


def blocked(args: list[str]) -> set[str]:
    return {value.removeprefix("no:") for flag, value in pairwise(args)
            if flag == "-p" and value.startswith("no:")}


def test_every_installed_pytest_plugin_is_blocked_by_name() -> None:
    installed = {plugin.name for plugin in entry_points(group="pytest11")}
    assert {"locust", "playwright"} <= installed  # this venv has the extras: the case to cover
    assert installed <= blocked(pytest_args(RunOptions()))


def test_no_option_that_pytest_before_8_4_rejects() -> None:
    """pytest 8.0-8.3 exit 4 on --disable-plugin-autoload: "the harness failed" for the user."""
    assert "--disable-plugin-autoload" not in pytest_args(RunOptions())
