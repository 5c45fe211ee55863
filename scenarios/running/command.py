"""`clinic2fa run`: the suite run on pytest in this process, from the command line or a caller."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TextIO

import pytest

from clinic2fa.scenarios.contract import Provider, Unreachable
from clinic2fa.scenarios.core.model import Scenario
from clinic2fa.scenarios.core.verdicts import ExitCode
from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.running.plan import (
    RunOptions,
    TargetDown,
    add_run_arguments,
    options_from,
    prepare,
)
from clinic2fa.scenarios.running.plugin import ConformancePlugin, Printer, write_stopped

INTERRUPTED = ExitCode.INTERRUPTED


def pytest_args(options: RunOptions) -> list[str]:
    """pytest on its own: no ini file, conftest, cache or autoloaded plugins from around it.

    Each installed plugin (a `pytest11` entry point: pytest-playwright, locust, a user's own) is
    blocked by name with `-p no:NAME`, which every pytest 8 knows; `--disable-plugin-autoload`
    came only with pytest 8.4, and the environment variable would leak into the caller.
    """
    from importlib.metadata import entry_points

    args = ["-c", os.devnull, "--rootdir", os.getcwd(), "--noconftest",
            "-p", "no:cacheprovider", "-p", "no:terminal",
            "-p", "no:logging", "-p", "no:junitxml", "-p", "no:doctest", "-p", "no:pastebin",
            "--capture=no", "-W", "default"]
    for name in sorted({plugin.name for plugin in entry_points(group="pytest11")}):
        args += ["-p", f"no:{name}"]
    if options.exitfirst:
        args.append("--exitfirst")
    return args


@contextmanager
def _own_options() -> Iterator[None]:
    """Without the caller's PYTEST_ADDOPTS (a developer's `-v`): meant for their own pytest, it
    may name options of the plugins this run blocks, and pytest would stop with exit 4."""
    kept = os.environ.pop("PYTEST_ADDOPTS", None)
    try:
        yield
    finally:
        if kept is not None:
            os.environ["PYTEST_ADDOPTS"] = kept


def run(options: RunOptions, *, catalogue: Mapping[str, Scenario] | None = None,
        provider: Provider | None = None, out: TextIO | None = None,
        err: TextIO | None = None) -> int:
    """Run the suite in this process; the exit code (0, 1, 2, 3, or 130 when interrupted)."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        plan = prepare(options, catalogue=catalogue, provider=provider)
    except UsageError as exc:
        print(f"clinic2fa: {exc}", file=err)
        return ExitCode.USAGE
    except TargetDown as exc:  # the reports say so too: junit.xml with one error case
        print(f"clinic2fa: {exc}", file=err)
        write_stopped(exc.plan, str(exc), ExitCode.UNREACHABLE)
        return ExitCode.UNREACHABLE
    except Unreachable as exc:
        print(f"clinic2fa: {exc}", file=err)
        return ExitCode.UNREACHABLE
    plugin = ConformancePlugin(plan, Printer(out, verbosity=options.verbosity))
    try:
        with _own_options():
            status = pytest.main(pytest_args(options), plugins=[plugin])
    finally:
        plugin.close_workers()
        plan.provider.close()
    if plugin.exit_code is not None:
        return plugin.exit_code
    if status == pytest.ExitCode.INTERRUPTED:
        return INTERRUPTED
    print(f"clinic2fa: the harness failed (pytest exit status {int(status)}): a bug",
          file=err)
    return ExitCode.DOES_NOT_CONFORM


# -- the command line ---------------------------------------------------------------------------


def run_command(args: argparse.Namespace) -> int:
    """Entry point for `clinic2fa run`."""
    return run(options_from(args))


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m clinic2fa.scenarios.running.command ...`, the same as `clinic2fa run ...`."""
    parser = argparse.ArgumentParser(prog="clinic2fa run")
    add_run_arguments(parser)
    return run_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
