"""The conformance suite as pytest items, for `clinic2fa run` and `pytest -p <this module>`.

Under `clinic2fa run` the scenarios are the whole session. As a plugin (`--c2f-target`) they are
added to the user's own session after their tests, so a failing test of theirs still fails the
run. Each scenario is one item whose outcome core.verdicts decides; reports are written when the
session ends, and the exit codes are the CLI's (2 usage, 3 target unreachable).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import pytest

from clinic2fa.scenarios.contract import Unreachable
from clinic2fa.scenarios.core.model import Scenario
from clinic2fa.scenarios.core.verdicts import (
    FAILING,
    UNDECIDED,
    ExitCode,
    Outcome,
    ScenarioResult,
    exit_code,
    status_word,
)
from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.reports import document as report_mod
from clinic2fa.scenarios.reports import words
from clinic2fa.scenarios.running.console import Console, Eta
from clinic2fa.scenarios.running.execute import run_scenario
from clinic2fa.scenarios.running.plan import Plan, RunOptions, TargetDown, prepare
from clinic2fa.scenarios.running.schedule import Ahead, measures_the_target

INTERRUPTED = ExitCode.INTERRUPTED
# How pytest shows each status word: its progress letter and its summary category.
_SHOWN = {"PASS": (".", "passed"), "FAIL": ("F", "failed"), "ERROR": ("E", "failed"),
          "ABSENT": ("A", "failed"), "N/A": ("n", "not applicable"),
          "UNSUPPORTED": ("u", "unsupported"), "INCONCLUSIVE": ("?", "inconclusive"),
          "NO-ACCOUNT": ("x", "config exhausted"), "WAIVED": ("w", "waived"),
          "WAIVED-PASS": ("W", "waived passed"), "WARN": ("!", "warned")}


# -- pytest options (plugin mode) ---------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("clinic2fa", "clinic2fa conformance suite")
    group.addoption("--c2f-target", metavar="TARGET",
                    help="run the conformance scenarios against memory or http://HOST:PORT")
    group.addoption("--c2f-config", metavar="FILE", help="target config (TOML)")
    group.addoption("--c2f-select", action="append", default=[], metavar="ID-or-glob",
                    help="only scenarios whose ID or spec ID matches (repeatable)")
    group.addoption("--c2f-strict", action="store_true",
                    help="a failing SHOULD scenario fails the run")
    group.addoption("--c2f-waivers", metavar="FILE", help="expected failures (TOML)")
    group.addoption("--c2f-report-dir", metavar="DIR", default="reports",
                    help="where the reports go (default ./reports)")
    group.addoption("--c2f-jobs", type=int, default=None, metavar="N",
                    help="scenarios at once (default: the cores, where the target allows)")


def pytest_configure(config: pytest.Config) -> None:
    target = config.getoption("c2f_target", None)
    if not target:
        return
    options = RunOptions(
        target=target,
        config=Path(config.getoption("c2f_config")) if config.getoption("c2f_config") else None,
        select=list(config.getoption("c2f_select")), strict=config.getoption("c2f_strict"),
        waivers=Path(config.getoption("c2f_waivers")) if config.getoption("c2f_waivers")
        else None,
        report_dir=Path(config.getoption("c2f_report_dir")),
        jobs=config.getoption("c2f_jobs"))
    try:
        plan = prepare(options)
    except UsageError as exc:  # the CLI's exit 2, not pytest's 4
        pytest.exit(f"clinic2fa: {exc}", returncode=ExitCode.USAGE)
    except TargetDown as exc:
        write_stopped(exc.plan, str(exc), ExitCode.UNREACHABLE)
        pytest.exit(f"clinic2fa: {exc}", returncode=ExitCode.UNREACHABLE)
    except Unreachable as exc:
        pytest.exit(f"clinic2fa: {exc}", returncode=ExitCode.UNREACHABLE)
    config.pluginmanager.register(ConformancePlugin(plan, None, own_session=False),
                                  "clinic2fa-run")
    config.add_cleanup(plan.provider.close)


# -- items --------------------------------------------------------------------------------------


class ScenarioFailed(Exception):
    """A blocking failure or an error, carried to pytest's report."""

    def __init__(self, result: ScenarioResult) -> None:
        super().__init__(result.message)
        self.result = result


class ScenarioGroup(pytest.Collector):
    """The scenarios of one spec section (one module of the catalogue)."""

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        return []  # the plugin makes the items itself


class ScenarioItem(pytest.Item):
    """One scenario; the plugin runs it and keeps the result."""

    def __init__(self, *, scenario: Scenario, plugin: ConformancePlugin, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.plugin = plugin
        # pytest's own --junitxml shows these as the testcase's properties
        self.user_properties += [("spec_id", v) for v in scenario.verifies]
        self.user_properties.append(("level", scenario.level.value))

    def runtest(self) -> None:
        result = self.plugin.execute(self)
        if result.unreachable:
            self.session.shouldstop = result.message
        if result.outcome is Outcome.ERROR or result.blocking:
            raise ScenarioFailed(result)
        if result.outcome in UNDECIDED:
            pytest.skip(f"{result.outcome.value.replace('_', ' ')}: {result.message}")
        if result.outcome is Outcome.WAIVED_FAIL:
            pytest.xfail(result.message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed):
            return failure_text(excinfo.value.result)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """The scenario's own file and line, so pytest's failure headers point at it."""
        what = f"{self.scenario.id}: {self.scenario.title}"
        try:
            file = inspect.getsourcefile(self.scenario.run)
            line = self.scenario.run.__code__.co_firstlineno - 1
        except (TypeError, AttributeError):
            return self.path, None, what
        return (Path(file), line, what) if file else (self.path, None, what)


def failure_text(result: ScenarioResult) -> str:
    """What a failure or error shows: the message, the traceback of an error, the last steps."""
    lines = [f"{result.scenario.id} [{result.scenario.level}] {result.outcome.value}: "
             f"{result.message}", f"  rule: {result.scenario.quote}"]
    if result.detail:
        lines.append(result.detail.rstrip())
    tail = [e for e in result.trace.entries if e.kind in ("step", "check", "call")][-6:]
    lines += [f"  {e.kind}: {e.text}{'' if e.ok is None else (' ok' if e.ok else ' FAILED')}"
              for e in tail]
    return "\n".join(lines)


# -- progress -----------------------------------------------------------------------------------


class Printer:
    """`clinic2fa run`'s own progress: one line per scenario with n/N and time left, then the
    summary. `verbosity` -1 (-q) shows only what did not pass; 1 (-v) adds each failure's rule,
    expected and got, and last steps under its line."""

    def __init__(self, out: TextIO | None = None, *, verbosity: int = 0,
                 colour: bool | None = None) -> None:
        self.console = Console(out, colour=colour)
        self.verbosity = verbosity
        self.width = 30
        self.eta = Eta(0)
        self._said_na = ""  # the last not-applicable reason shown: a run of them shows it once

    def say(self, text: str = "") -> None:
        self.console.say(text)

    def start(self, plugin: ConformancePlugin, count: int) -> None:
        record = plugin.record
        self.width = max([len(s.id) for s in record.selected] + [20])
        self.eta = Eta(count)
        kind = words.describe_target(record.target_kind, record.reference)
        caps = ", ".join(sorted(record.capabilities)) or "none"
        self.say(f"clinic2fa {report_mod.harness_version()}: {count} scenarios against "
                 f"{record.target} ({kind}; offers: {caps})")
        clock = record.clock
        if clock is not None and clock.source == "freezegun":
            self.say(f"server clock: {words.describe_clock(clock.to_dict())}")
        elif clock is not None and clock.source != "memory":
            self.say(f"server clock offset {clock.offset_seconds:+.3f} s "
                     f"± {clock.uncertainty_seconds:.3f} s ({clock.source})")

    def line(self, index: int, total: int, result: ScenarioResult) -> None:
        digits = len(str(total))
        word = status_word(result)
        progress = self.eta.says(index)
        quiet = self.verbosity < 0 and (result.outcome in (Outcome.PASS, Outcome.WAIVED_PASS)
                                        or result.outcome in UNDECIDED)
        if quiet:
            self.console.status(f"{progress}, last: {result.scenario.id}")
            return
        left = progress.partition("]")[2]
        self.say(f"[{index:>{digits}}/{total}] {result.scenario.id:<{self.width}} "
                 f"{self.console.paint(f'{word:<11}', word)} {result.duration:7.3f}s"
                 f"{'  ' + left.strip() if left else ''}")
        if result.outcome is Outcome.PASS or not result.message:
            return
        if result.outcome is Outcome.NOT_APPLICABLE:
            if result.message == self._said_na:
                return
            self._said_na = result.message
        if self.verbosity > 0 and (result.outcome in FAILING or result.outcome is Outcome.ERROR):
            for text in failure_text(result).splitlines():
                self.say(f"{'':>{2 * digits + 3}} {text}")
            return
        self.say(f"{'':>{2 * digits + 3}} {result.message}")

    def finish(self, summary_lines: list[str]) -> None:
        self.say()
        for text in summary_lines[:-1]:
            self.say(text)
        if summary_lines:
            last = summary_lines[-1]
            style = next((k for k in ("DOES NOT CONFORM", "CONFORMS", "NOT VERIFIED",
                                      "INTERRUPTED") if last.startswith(k)), "")
            self.say(self.console.paint(last, style))


# -- the run ------------------------------------------------------------------------------------


def record_for(plan: Plan, *, opened: bool = True) -> report_mod.RunRecord:
    """What the reports will say about this run, before any scenario has run.

    A provider that never `opened` is not asked what only the target knows (its clock).
    """
    provider, options = plan.provider, plan.options
    return report_mod.RunRecord(
        target=provider.name, target_kind=provider.kind, reference=provider.reference,
        capabilities=[n.value for n in provider.capabilities],
        clock=provider.clock() if opened else None,
        catalogue=plan.catalogue, selected=list(plan.selected), strict=options.strict,
        select=list(options.select),
        waivers_file=str(options.waivers) if options.waivers else None,
        secrets=set(provider.secrets()),
        browser=provider.details() if opened else None,
        policy=provider.policy() if opened else None)


def write_stopped(plan: Plan, why: str, code: int) -> list[Path]:
    """The reports of a run that stopped before any scenario: each says why (JUnit: one error).

    Nothing is written without a report directory, and a failure to write is not raised: the
    run already has a reason to stop, which the caller prints.
    """
    if plan.options.report_dir is None:
        return []
    record = record_for(plan, opened=False)
    record.aborted, record.exit_code = why, code
    record.finished = record.started
    try:
        return report_mod.write(report_mod.build(record, plan.spec), plan.options.report_dir)
    except OSError:
        return []


class ConformancePlugin:
    """Collects the plan's scenarios as items, runs them, writes the reports, sets the exit.

    `own_session`: the scenarios are the whole session (`clinic2fa run`); otherwise they join
    the user's session after its own tests (`pytest -p ... --c2f-target`).
    """

    def __init__(self, plan: Plan, printer: Printer | None, *, own_session: bool = True) -> None:
        self.plan = plan
        self.printer = printer
        self.own_session = own_session
        self.exit_code: int | None = None  # set once the verdict is in
        self.report: dict[str, Any] | None = None
        self.files: list[Path] = []
        self._by_nodeid: dict[str, ScenarioResult] = {}
        # plugin mode: the user's own tests in the session, and how many failed
        self.user_tests = {"collected": 0, "failed": 0, "collection_errors": 0}
        self._user_failed: set[str] = set()
        self.record = record_for(plan)
        self._total = 0
        self._chosen: list[ScenarioItem] = []
        self._ahead: Ahead | None = None  # the scenarios running on worker threads (-j N)

    # collection: the scenarios alone (clinic2fa run), or added to the user's tests (plugin)

    def _items(self, session: pytest.Session) -> list[pytest.Item]:
        groups: dict[str, ScenarioGroup] = {}
        items: list[pytest.Item] = []
        for scen in self.plan.selected:
            name = scen.module.rpartition(".")[2] or "scenarios"
            if name not in groups:
                groups[name] = ScenarioGroup.from_parent(session, name=name, nodeid=name)
            items.append(ScenarioItem.from_parent(groups[name], name=scen.id, scenario=scen,
                                                  plugin=self))
        hook = session.config.hook
        for group in groups.values():
            mine = [i for i in items if i.parent is group]
            hook.pytest_collectreport(report=pytest.CollectReport(
                group.nodeid, "passed", None, list(mine)))
        return items

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> bool | None:
        if not self.own_session:
            return None  # pytest collects the user's tests; modifyitems adds the scenarios
        items = self._items(session)
        hook = session.config.hook
        hook.pytest_collection_modifyitems(session=session, config=session.config, items=items)
        session.items = items
        session.testscollected = len(items)
        hook.pytest_collection_finish(session=session)
        return True

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session,
                                      items: list[pytest.Item]) -> None:
        """Plugin mode: the scenarios after the user's tests, before -k, -m and --deselect."""
        if not self.own_session:
            self.user_tests["collected"] = len(items)
            items.extend(self._items(session))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.user_tests["collection_errors"] += 1

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        chosen = [i for i in session.items if isinstance(i, ScenarioItem)]
        if not self.own_session:
            self.user_tests["collected"] = len(session.items) - len(chosen)
        self._chosen = chosen
        self.record.selected = [i.scenario for i in chosen]
        self._total = len(self.record.selected)
        if self.printer:
            self.printer.start(self, self._total)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and report.nodeid not in self._by_nodeid:
            self._user_failed.add(report.nodeid)
            self.user_tests["failed"] = len(self._user_failed)

    def _run(self, scenario: Scenario) -> ScenarioResult:
        return run_scenario(scenario, self.plan.provider, waiver=self.plan.waivers.get(scenario.id),
                            strict=self.plan.options.strict)

    def _result(self, item: ScenarioItem) -> ScenarioResult:
        """The scenario's result: run now, or (-j N) taken from the worker that ran it.

        The workers start with the first scenario pytest runs (in plugin mode, after the
        user's own tests), in the order pytest will ask for them."""
        if self.plan.jobs > 1 and self._ahead is None:
            first = self._chosen.index(item) if item in self._chosen else 0
            exitfirst = item.config.getoption("maxfail", 0) == 1
            self._ahead = Ahead(
                [i.scenario for i in self._chosen[first:]], self._run, self.plan.jobs,
                stops=lambda r: r.unreachable or (
                    exitfirst and (r.blocking or r.outcome is Outcome.ERROR)),
                leave=self.plan.provider.leave_worker, alone=measures_the_target)
            self._ahead.start()
        if self._ahead is not None and item.scenario in self._ahead:
            return self._ahead.result(item.scenario)
        return self._run(item.scenario)

    def close_workers(self) -> None:
        """Let the scenarios still running finish (Ctrl-C, -x): before the target closes."""
        if self._ahead is not None:
            self._ahead.close()

    def execute(self, item: ScenarioItem) -> ScenarioResult:
        result = self._result(item)
        self.record.results.append(result)
        self._by_nodeid[item.nodeid] = result
        if self.printer:
            self.printer.line(len(self.record.results), self._total, result)
        if result.unreachable:
            self.record.aborted = result.message
        return result

    # how pytest -v shows each scenario (plugin mode)

    def pytest_report_teststatus(self, report: pytest.TestReport,
                                 config: pytest.Config) -> tuple[str, str, str] | None:
        result = self._by_nodeid.get(report.nodeid)
        if result is None or report.when != "call":
            return None
        word = status_word(result)
        letter, category = _SHOWN[word]
        return category, letter, f"{word} {result.duration:.3f}s"

    # the end: verdict, reports, exit code

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.close_workers()
        record = self.record
        record.finished = datetime.now(UTC)
        unreachable = any(r.unreachable for r in record.results)
        # shouldstop (the target dropped) ends a session as "interrupted" too; it is not Ctrl-C
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED and not unreachable
        errors = self.user_tests["collection_errors"]
        if interrupted and errors and not self.own_session:
            record.aborted = f"{errors} error(s) collecting the user's tests: no scenario ran"
        elif interrupted and not record.aborted:
            record.aborted = "interrupted"
        elif (session.shouldfail or session.shouldstop) and len(record.results) < self._total:
            record.aborted = record.aborted or \
                f"the session stopped early ({session.shouldfail or session.shouldstop})"
        if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED,
                              pytest.ExitCode.INTERRUPTED, pytest.ExitCode.NO_TESTS_COLLECTED):
            return  # pytest itself broke: its status stands, no verdict
        if session.config.option.collectonly:
            return  # nothing ran: no verdict, no report
        code = int(exit_code(record.results, unreachable=unreachable))
        if not self.own_session and code == ExitCode.CONFORMS and (
                self.user_tests["failed"] or exitstatus == pytest.ExitCode.TESTS_FAILED):
            code = int(ExitCode.DOES_NOT_CONFORM)  # the user's own test failed: so does the run
        record.exit_code = INTERRUPTED if interrupted else code
        if not self.own_session:
            record.user_tests = dict(self.user_tests)
        report = report_mod.build(record, self.plan.spec)
        self.report = report
        if self.plan.options.report_dir is not None:
            self.files = report_mod.write(report, self.plan.options.report_dir)
        self.exit_code = record.exit_code
        if not interrupted:
            session.exitstatus = code
        if self.printer:
            self.printer.finish(self.summary_lines())

    def summary_lines(self) -> list[str]:
        report = self.report
        if report is None:
            return []
        counts = report["summary"]
        parts = [f"{counts[o.value]} {o.value.replace('_', ' ')}" for o in Outcome
                 if counts[o.value]]
        if counts["warnings"]:
            parts.append(f"{counts['warnings']} of the failures SHOULD-level (warnings)")
        if counts["not_run"]:
            parts.append(f"{counts['not_run']} not run")
        spec_counts = ", ".join(f"{n} {v.replace('_', ' ')}"
                                for v, n in report["spec_summary"].items() if n)
        lines = [f"scenarios: {counts['run']} run: {', '.join(parts) or 'none'}",
                 f"spec items: {spec_counts}"]
        if self.files:
            lines.append("reports: " + ", ".join(str(p) for p in self.files))
        if report["aborted"]:
            lines.append(f"ABORTED: {report['aborted']}")
        lines.append(f"{report['headline']} (exit {report['exit_code']})")
        return lines

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.report is None:
            return
        terminalreporter.section("clinic2fa")
        for text in self.summary_lines():
            terminalreporter.write_line(text)
