"""A run made ready: target opened, scenarios chosen, waivers checked, before pytest starts.

Everything that can be wrong with the arguments is found here, so a usage error is one line and
exit 2, and an unreachable target one line and exit 3.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from clinic2fa import spec
from clinic2fa.scenarios import catalogue as catalogue_mod
from clinic2fa.scenarios.contract import Provider, Unreachable
from clinic2fa.scenarios.core.model import Scenario
from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.running import waivers as waivers_mod
from clinic2fa.scenarios.targets import config as config_mod
from clinic2fa.scenarios.targets import factory

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
    verbosity: int = 0  # -1 quiet (-q), 0 a line per scenario, 1 failures in full (-v)
    last_failed: Path | None = None  # a previous report.json (or its folder): rerun its failures
    jobs: int | None = None  # scenarios at once (-j); None: as many as the target allows, up to
    # the cores


@dataclass
class Plan:
    """A run ready to go: the target opened, the scenarios chosen, the waivers checked."""

    options: RunOptions
    provider: Provider
    catalogue: Mapping[str, Scenario]
    selected: list[Scenario]
    waivers: dict[str, str]
    spec: spec.Spec
    jobs: int = 1  # scenarios at once, as `jobs_for` decided once the target was open


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
    if options.last_failed is not None:
        failed = previous_failures(options.last_failed)
        if failed:  # none: run what was selected, as pytest --last-failed does
            selected = [s for s in selected if s.id in failed]
    if options.waivers:
        waivers_mod.check_known(waivers, catalogue, f"waivers file {options.waivers}")
    if options.report_dir is not None:
        check_writable(options.report_dir)
        provider.keep_evidence_in(options.report_dir)  # screenshots, traces (browser)
    plan = Plan(options, provider, catalogue, selected, waivers, loaded)
    try:
        provider.open()
        plan.jobs = jobs_for(options.jobs, provider)
    except Unreachable as exc:
        provider.close()
        raise TargetDown(str(exc), plan) from exc
    except BaseException:
        provider.close()
        raise
    return plan


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else (os.cpu_count() or 1)


def jobs_for(asked: int | None, provider: Provider) -> int:
    """How many scenarios run at once: `-j N` if the target allows it, else what it allows
    (up to the cores: the reference's work is CPU-bound; a deployment's config names its own)."""
    limit = provider.max_jobs()
    if asked is None:
        return min(cores(), limit) if limit is not None else cores()
    if asked < 1:
        raise UsageError(f"-j {asked}: at least one scenario must run at a time")
    if limit is not None and asked > limit:
        raise UsageError(f"-j {asked}: {provider.name} allows {limit} scenario"
                         f"{'s' if limit > 1 else ''} at a time (a deployment's config may "
                         "allow more: [target] jobs)")
    return asked


class TargetDown(Unreachable):
    """The target did not answer at the start; the plan stays, so the reports can say why."""

    def __init__(self, message: str, plan: Plan) -> None:
        super().__init__(message)
        self.plan = plan


# What --last-failed reruns: failures, errors, missing features and runs that could not decide.
RERUN = frozenset({"fail", "error", "feature_absent", "inconclusive"})


def previous_failures(path: Path) -> set[str]:
    """Scenario IDs that did not pass in a previous report.json (or the one in a folder)."""
    import json

    file = path / "report.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        return {s["id"] for s in data["scenarios"] if s["outcome"] in RERUN}
    except OSError as exc:
        raise UsageError(f"--last-failed: cannot read {file}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"--last-failed: {file} is not a clinic2fa report.json") from None


def check_writable(directory: Path) -> None:
    """Make the report directory, or say in one line why it cannot be written to."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the report directory {directory}: "
                         f"{exc.strerror or exc}") from None
    if not os.access(directory, os.W_OK):
        raise UsageError(f"cannot write reports to {directory}")


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
    parser.add_argument("--last-failed", "--lf", nargs="?", const=True, default=None,
                        metavar="REPORT",
                        help="rerun only the scenarios that failed, errored or were "
                             "inconclusive in a previous report.json (default: the one in "
                             "--report-dir); all when it has none")
    parser.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                        help="run N scenarios at once (default: the cores, where the target "
                             "allows: the reference; a deployment one at a time unless its "
                             "config allows more)")
    loud = parser.add_mutually_exclusive_group()
    loud.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=-1,
                      default=0, help="print only what did not pass, and the summary")
    loud.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const=1,
                      help="under each failure: its rule, expected and got, the last steps")


def options_from(args: argparse.Namespace) -> RunOptions:
    last = getattr(args, "last_failed", None)
    if last is True:  # --last-failed alone: the previous report in --report-dir
        last = args.report_dir
    return RunOptions(target=args.target, config=args.config, select=list(args.select or []),
                      strict=args.strict, waivers=args.waivers, report_dir=args.report_dir,
                      exitfirst=getattr(args, "exitfirst", False),
                      verbosity=getattr(args, "verbosity", 0),
                      last_failed=Path(last) if last else None,
                      jobs=getattr(args, "jobs", None))
