"""`clinic2fa run`: prepare a run (target, accounts, waivers, selection), then run it on pytest.

Everything that can be wrong with the arguments is found before pytest starts, so a usage error
is one line and exit 2, and an unreachable target one line and exit 3.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from clinic2fa import spec
from clinic2fa.scenarios import catalogue as catalogue_mod
from clinic2fa.scenarios.contract import Unreachable
from clinic2fa.scenarios.core.model import Scenario
from clinic2fa.scenarios.core.verdicts import ExitCode
from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.running import waivers as waivers_mod
from clinic2fa.scenarios.targets import config as config_mod
from clinic2fa.scenarios.targets import factory
from clinic2fa.scenarios.targets.provider import Provider

INTERRUPTED = 130
DEFAULT_REPORT_DIR = Path("reports")


@dataclass
class RunOptions:
    """What `clinic2fa run` (or the pytest plugin's --c2f-* options) asked for."""

    target: str = "memory"
    config: Path | None = None
    select: list[str] = field(default_factory=list)
    strict: bool = False
    waivers: Path | None = None
    report_dir: Path | None = DEFAULT_REPORT_DIR  # None: write no report
    exitfirst: bool = False


@dataclass
class Plan:
    """A run ready to go: the target opened, the scenarios chosen, the waivers checked."""

    options: RunOptions
    provider: Provider
    catalogue: Mapping[str, Scenario]
    selected: list[Scenario]
    waivers: dict[str, str]
    spec: spec.Spec


def prepare(options: RunOptions, *, catalogue: Mapping[str, Scenario] | None = None,
            provider: Provider | None = None) -> Plan:
    """Check everything before pytest starts; UsageError or Unreachable otherwise.

    `catalogue` and `provider` let tests run their own scenarios on their own targets.
    """
    waivers = waivers_mod.load(options.waivers) if options.waivers else {}
    config = config_mod.load(options.config) if options.config else None
    provider = provider or factory.build(options.target, config)
    loaded = spec.load()
    catalogue = catalogue if catalogue is not None else catalogue_mod.load()
    if not catalogue:
        raise UsageError("the scenario catalogue is empty "
                         "(no module of scenarios/catalogue/ registered any)")
    selected = catalogue_mod.select(catalogue, options.select, loaded)
    if options.waivers:
        waivers_mod.check_known(waivers, catalogue, f"waivers file {options.waivers}")
    if options.report_dir is not None:
        check_writable(options.report_dir)
        keep = getattr(provider, "keep_evidence_in", None)  # optional: screenshots, traces
        if keep is not None:
            keep(options.report_dir)
    try:
        provider.open()
    except BaseException:
        provider.close()
        raise
    return Plan(options, provider, catalogue, selected, waivers, loaded)


def check_writable(directory: Path) -> None:
    """Make the report directory, or say in one line why it cannot be written to."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the report directory {directory}: "
                         f"{exc.strerror or exc}") from None
    if not os.access(directory, os.W_OK):
        raise UsageError(f"cannot write reports to {directory}")


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


def run(options: RunOptions, *, catalogue: Mapping[str, Scenario] | None = None,
        provider: Provider | None = None, out: TextIO | None = None,
        err: TextIO | None = None) -> int:
    """Run the suite in this process; the exit code (0, 1, 2, 3, or 130 when interrupted)."""
    import pytest
    from clinic2fa.scenarios.running.plugin import ConformancePlugin, Printer

    out, err = out or sys.stdout, err or sys.stderr
    try:
        plan = prepare(options, catalogue=catalogue, provider=provider)
    except UsageError as exc:
        print(f"clinic2fa: {exc}", file=err)
        return ExitCode.USAGE
    except Unreachable as exc:
        print(f"clinic2fa: {exc}", file=err)
        return ExitCode.UNREACHABLE
    plugin = ConformancePlugin(plan, Printer(out))
    try:
        status = pytest.main(pytest_args(options), plugins=[plugin])
    finally:
        plan.provider.close()
    if plugin.exit_code is not None:
        return plugin.exit_code
    if status == pytest.ExitCode.INTERRUPTED:
        return INTERRUPTED
    print(f"clinic2fa: the harness failed (pytest exit status {int(status)}): a bug",
          file=err)
    return ExitCode.DOES_NOT_CONFORM


# -- the command line ---------------------------------------------------------------------------


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `clinic2fa run`."""
    parser.add_argument("--target", required=True, metavar="TARGET",
                        help="memory, http://HOST:PORT / https://HOST of a deployment, or "
                             "browser+http://HOST:PORT for its web pages in Chromium")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="target config (TOML): the test clinic and its accounts")
    parser.add_argument("--select", nargs="+", action="extend", default=[],
                        metavar="ID-or-glob",
                        help="run only scenarios whose ID or spec ID matches (fnmatch globs)")
    parser.add_argument("--strict", action="store_true",
                        help="a failing SHOULD scenario fails the run too (else a warning)")
    parser.add_argument("--waivers", type=Path, metavar="FILE",
                        help="TOML file of expected failures, each with a reason")
    parser.add_argument("--report-dir", type=Path, default=DEFAULT_REPORT_DIR, metavar="DIR",
                        help="where report.json, junit.xml and report.html go (./reports)")
    parser.add_argument("-x", "--exitfirst", action="store_true",
                        help="stop at the first blocking failure or error")


def options_from(args: argparse.Namespace) -> RunOptions:
    return RunOptions(target=args.target, config=args.config, select=list(args.select or []),
                      strict=args.strict, waivers=args.waivers, report_dir=args.report_dir,
                      exitfirst=getattr(args, "exitfirst", False))


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
