"""`clinic2fa defects`: list the seeded defects, or --check that the suite catches every one."""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, TextIO

from clinic2fa.scenarios import catalogue as catalogue_mod
from clinic2fa.scenarios.core.model import Scenario
from clinic2fa.scenarios.core.verdicts import ExitCode, Outcome
from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.reports import document as report_mod
from clinic2fa.scenarios.running.command import run
from clinic2fa.scenarios.running.console import Console, Eta
from clinic2fa.scenarios.running.plan import DEFAULT_REPORT_DIR, RunOptions, check_writable
from clinic2fa.scenarios.selfcheck import coverage
from clinic2fa.scenarios.selfcheck.defects import CATALOGUE, Defect
from clinic2fa.scenarios.selfcheck.serve import served

SCHEMA_VERSION = "1.0"
JSON_NAME = "defects.json"
TARGET_KINDS = ("memory", "http")
CLEAN = "clean"  # the reference without a defect, as the runs' directory and the JSON name it
FAILED = (Outcome.FAIL.value, Outcome.WAIVED_FAIL.value)
BROKEN = (*FAILED, Outcome.ERROR.value)  # what makes a clean run, or a scenario, not pass

# -- what to check -------------------------------------------------------------------------------


def parse_targets(text: str) -> list[str]:
    """`memory,http` -> ["memory", "http"]; an unknown or missing kind is a UsageError."""
    kinds = [k.strip().lower() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in TARGET_KINDS]
    if unknown or not kinds:
        raise UsageError(f"--targets {text!r}: expected a comma-separated list of "
                         f"{', '.join(TARGET_KINDS)}")
    return list(dict.fromkeys(kinds))


def choose(patterns: Sequence[str]) -> list[Defect]:
    """The defects whose names match any glob (all when none); a dead pattern is a UsageError."""
    if not patterns:
        return list(CATALOGUE.values())
    dead = [p for p in patterns if not any(fnmatchcase(n, p.lower()) for n in CATALOGUE)]
    if dead:
        raise UsageError(f"--select {dead[0]} matches no defect: `clinic2fa defects` lists them")
    return [d for n, d in CATALOGUE.items() if any(fnmatchcase(n, p.lower()) for p in patterns)]


def naming(defect: Defect, catalogue: Mapping[str, Scenario]) -> list[str]:
    """IDs of the scenarios that name one of the spec IDs the defect violates."""
    return [s.id for s in catalogue.values() if set(s.verifies) & set(defect.violates)]


# -- one run of the suite ------------------------------------------------------------------------


@dataclass
class SuiteRun:
    """One run of (part of) the suite on one target: the exit code and each scenario's outcome."""

    target: str
    exit_code: int
    outcomes: dict[str, str]  # scenario ID -> outcome, as report.json has it
    report: Path | None  # report.json, when the run got that far
    problem: str = ""  # why the run gave no verdict (usage error, unreachable), if it did not
    seconds: float = 0.0  # wall time of the run

    @property
    def passed(self) -> bool:
        return self.exit_code == ExitCode.CONFORMS and not self.broken

    @property
    def broken(self) -> list[str]:
        """Scenarios that failed or errored."""
        return [sid for sid, outcome in self.outcomes.items() if outcome in BROKEN]


def run_suite(target: str, report_dir: Path, select: Sequence[str] = (),
              config: Path | None = None) -> SuiteRun:
    """`clinic2fa run --target TARGET [--select ...]` in this process, quietly; its outcomes."""
    out, err = io.StringIO(), io.StringIO()
    path = report_dir / report_mod.JSON_NAME
    path.unlink(missing_ok=True)  # a report left by an earlier check is not this run's
    started = time.perf_counter()
    code = run(RunOptions(target=target, config=config, select=list(select),
                          report_dir=report_dir), out=out, err=err)
    seconds = time.perf_counter() - started
    if not path.exists():  # a usage error, or unreachable before the first scenario
        why = err.getvalue().strip().splitlines()
        return SuiteRun(target, code, {}, None, why[-1] if why else f"exit {code}", seconds)
    # A run that lost its target half-way still has the verdicts it reached: a catch before
    # the target dropped is a catch (the scenarios it could not run are simply not there).
    data = json.loads(path.read_text(encoding="utf-8"))
    outcomes = {s["id"]: s["outcome"] for s in data["scenarios"]}
    return SuiteRun(target, code, outcomes, path, data.get("aborted") or "", seconds)


# Seconds the harness waits for one answer of the self-check's own server. The reference hashes
# at full argon2id cost, and 20 parallel backup codes on a loaded 2-core machine take longer
# than a deployment's default 10 s: slow is not broken, and a silence counts as a failure.
SERVED_TIMEOUT = 60.0
SERVER_LOG = "server.log"  # beside each HTTP run's reports: the server's own log


def serving(defect: str | None, log_file: Path | None = None) -> AbstractContextManager[str]:
    """`clinic2fa serve --fake-clock [--defect NAME]` in a thread on a free port; its URL."""
    return served(defect, log_file)


def served_config(report_dir: Path) -> Path:
    """The target config of a self-check run over HTTP: the reference, its longer timeout."""
    path = report_dir / "target.toml"
    path.write_text(f"[target]\nreference = true\ntimeout = {SERVED_TIMEOUT}\n",
                    encoding="utf-8")
    return path


def run_served(defect: str | None, report_dir: Path, select: Sequence[str]) -> SuiteRun:
    """The scenarios `select` names (never the whole suite) on a server `serving` starts; the
    server's log goes to server.log in `report_dir`, not to the console."""
    if not select:
        return SuiteRun("http", ExitCode.CONFORMS, {}, None, "no scenario names its spec IDs")
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
        config = served_config(report_dir)
        with serving(defect, report_dir / SERVER_LOG) as url:
            return run_suite(url, report_dir, select, config)
    except (OSError, RuntimeError) as exc:  # no free port, or the server never answered
        return SuiteRun("http", ExitCode.UNREACHABLE, {}, None,
                        f"the server did not start: {exc}")


# -- a defect on a target ------------------------------------------------------------------------


@dataclass
class Finding:
    """Whether the suite caught one defect on one target, and with which scenarios."""

    defect: str
    target: str
    caught: bool
    catching: list[str]  # scenarios naming the defect's spec IDs that failed
    other_failing: list[str]  # every other scenario that failed or errored
    run: SuiteRun

    def to_dict(self, root: Path) -> dict[str, Any]:
        report = self.run.report
        return {"caught": self.caught, "catching": self.catching,
                "other_failing": self.other_failing, "exit_code": int(self.run.exit_code),
                "scenarios_run": len(self.run.outcomes), "problem": self.run.problem or None,
                "seconds": round(self.run.seconds, 2),
                "report": _relative(report, root) if report else None}


def judge(defect: Defect, target: str, done: SuiteRun,
          catalogue: Mapping[str, Scenario]) -> Finding:
    """CAUGHT: at least one scenario naming one of the defect's spec IDs failed."""
    named = set(naming(defect, catalogue))
    catching = [sid for sid, o in done.outcomes.items() if sid in named and o in FAILED]
    others = [sid for sid in done.broken if sid not in catching]
    return Finding(defect.name, target, bool(catching), catching, others, done)


def _run_dir(root: Path, target: str, name: str) -> Path:
    return root / "defects" / target / name


def check_memory(defect: Defect, catalogue: Mapping[str, Scenario], root: Path) -> Finding:
    """The whole suite on `memory+defect:NAME`: every scenario that catches it shows."""
    done = run_suite(f"memory+defect:{defect.name}", _run_dir(root, "memory", defect.name))
    return judge(defect, "memory", done, catalogue)


def check_http(defect: Defect, catalogue: Mapping[str, Scenario], root: Path) -> Finding:
    """Only the scenarios naming the defect's spec IDs, on a server with that defect."""
    done = run_served(defect.name, _run_dir(root, "http", defect.name),
                      naming(defect, catalogue))
    return judge(defect, "http", done, catalogue)


def check_clean(target: str, root: Path, select: Sequence[str] = ()) -> SuiteRun:
    """The reference without a defect: it must pass every scenario it runs."""
    if target == "memory":
        return run_suite("memory", _run_dir(root, "memory", CLEAN), select)
    return run_served(None, _run_dir(root, target, CLEAN), select)


CHECKS: dict[str, Callable[[Defect, Mapping[str, Scenario], Path], Finding]] = {
    "memory": check_memory, "http": check_http}


# -- the whole check -----------------------------------------------------------------------------


@dataclass
class Check:
    """Everything `clinic2fa defects --check` found."""

    targets: list[str]
    defects: list[Defect]
    clean: dict[str, SuiteRun] = field(default_factory=dict)
    findings: dict[str, dict[str, Finding]] = field(default_factory=dict)  # defect -> target ->
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished: datetime | None = None

    @property
    def clean_passed(self) -> bool:
        return all(r.passed for r in self.clean.values())

    @property
    def missed(self) -> list[tuple[str, str]]:
        """(defect, target) pairs no scenario caught."""
        return [(d.name, t) for d in self.defects for t in self.targets
                if d.shows(t) and not self.findings.get(d.name, {}).get(t, _NOT_RUN).caught]

    @property
    def exit_code(self) -> int:
        ok = self.clean_passed and not self.missed
        return ExitCode.CONFORMS if ok else ExitCode.DOES_NOT_CONFORM


_NOT_RUN = Finding("", "", False, [], [], SuiteRun("", -1, {}, None, "not run"))


def check(defects: Sequence[Defect], targets: Sequence[str], root: Path,
          say: Callable[[str], None] = print,
          status: Callable[[str], None] = lambda _: None) -> Check:
    """The clean reference on memory, then each defect on each target, a line for each.

    Each line starts with n/N and the time left; `status` shows what runs now (a terminal's
    redrawn line), so a long run is never silent there.
    """
    catalogue = catalogue_mod.load()
    result = Check(list(targets), list(defects))
    eta = Eta(1 + ("http" in targets) + len(defects) * len(targets))
    done = 0

    def said(line: str) -> None:
        nonlocal done
        done += 1
        say(f"{eta.says(done)}  {line}")

    status(f"{eta.says(done)} the clean reference on memory, every scenario")
    clean = result.clean["memory"] = check_clean("memory", root)
    said(progress_clean("memory", clean))
    if "http" in targets:  # the scenarios run over HTTP must pass on a clean server too
        chosen = sorted({sid for d in defects for sid in naming(d, catalogue)})
        status(f"{eta.says(done)} the clean reference over http, {len(chosen)} scenarios")
        clean = result.clean["http"] = check_clean("http", root, chosen)
        said(progress_clean("http", clean))
    for defect in defects:
        for target in targets:
            status(f"{eta.says(done)} {defect.name} on {target}")
            if not defect.shows(target):  # a web layer's defect: nothing of it in memory
                continue
            finding = CHECKS[target](defect, catalogue, root)
            result.findings.setdefault(defect.name, {})[target] = finding
            said(progress(finding))
    result.finished = datetime.now(UTC)
    return result


# -- what it prints ------------------------------------------------------------------------------


NAME_WIDTH = max([len(n) for n in CATALOGUE] + [len(CLEAN)])
SHOWN = 3  # other failing scenarios a progress line names; defects.json has them all


def progress_clean(target: str, done: SuiteRun) -> str:
    """One line: the clean reference on a target, and whether it passed everything."""
    why = done.problem or ", ".join(done.broken) or f"exit {done.exit_code}"
    said = f"passes all {len(done.outcomes)} scenarios" if done.passed else \
        f"DOES NOT PASS: {why}"
    return _line(CLEAN, target, done.seconds, said)


def progress(finding: Finding) -> str:
    """One line: defect, target, caught/MISSED, by which scenarios."""
    if finding.caught:
        said = f"caught  by {', '.join(finding.catching)}"
    else:
        said = f"MISSED  {finding.run.problem or 'no scenario naming its spec IDs failed'}"
    others = finding.other_failing
    if others:
        more = f", +{len(others) - SHOWN} more" if len(others) > SHOWN else ""
        said += f"  (also failing: {', '.join(others[:SHOWN])}{more})"
    return _line(finding.defect, finding.target, finding.run.seconds, said)


def _line(name: str, target: str, seconds: float, said: str) -> str:
    return f"{name:<{NAME_WIDTH}}  {target:<6}  {seconds:5.1f}s  {said}"


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """A plain text table, the last column left to run on."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, ["-" * w for w in widths] + ["-" * len(header[-1])], *rows]:
        cells = [f"{c!s:<{w}}" for c, w in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, str(row[-1])]).rstrip())
    return "\n".join(lines)


def listing(defects: Sequence[Defect]) -> str:
    """Every defect: its name, the spec IDs it violates, what it does wrong."""
    return table([(d.name, ", ".join(d.violates), d.summary) for d in defects],
                 ("defect", "violates", "summary"))


def summary_table(result: Check) -> str:
    """defect | caught by | targets caught on."""
    rows = []
    for defect in result.defects:
        found = result.findings.get(defect.name, {})
        by = list(dict.fromkeys(s for f in found.values() for s in f.catching))
        on = [t if found.get(t, _NOT_RUN).caught else f"n/a on {t}" if not defect.shows(t)
              else f"MISSED on {t}" for t in result.targets]
        rows.append((defect.name, ", ".join(by) or "-", ", ".join(on)))
    return table(rows, ("defect", "caught by", "targets caught on"))


def verdict_line(result: Check) -> str:
    runs = sum(1 for d in result.defects for t in result.targets if d.shows(t))
    caught = runs - len(result.missed)
    parts = [f"{caught} of {runs} defect runs caught"]
    if result.missed:
        parts.append("MISSED: " + ", ".join(f"{d} on {t}" for d, t in result.missed))
    if not result.clean_passed:
        parts.append("the clean reference DOES NOT PASS")
    return "; ".join(parts) + f" (exit {result.exit_code})"


# -- defects.json --------------------------------------------------------------------------------


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def document(result: Check, root: Path) -> dict[str, Any]:
    """defects.json as data: versioned, small; the per-run reports hold the detail."""
    return {
        "schema_version": SCHEMA_VERSION,
        "harness": {"name": "clinic2fa", "version": report_mod.harness_version()},
        "started": _stamp(result.started),
        "finished": _stamp(result.finished),
        "targets": list(result.targets),
        "clean": {t: {"passed": r.passed, "exit_code": int(r.exit_code),
                      "scenarios_run": len(r.outcomes), "failing": r.broken,
                      "problem": r.problem or None, "seconds": round(r.seconds, 2),
                      "report": _relative(r.report, root) if r.report else None}
                  for t, r in result.clean.items()},
        "defects": {d.name: {"summary": d.summary, "violates": list(d.violates),
                             "targets": {t: f.to_dict(root) for t, f in
                                         result.findings.get(d.name, {}).items()}}
                    for d in result.defects},
        "missed": [{"defect": d, "target": t} for d, t in result.missed],
        "exit_code": int(result.exit_code),
    }


def _stamp(when: datetime | None) -> str | None:
    return when.isoformat(timespec="seconds").replace("+00:00", "Z") if when else None


def write(result: Check, root: Path) -> Path:
    """defects.json in `root`, atomically (a temporary file, then a rename)."""
    path = root / JSON_NAME
    report_mod.write_atomic(path, json.dumps(document(result, root), indent=2) + "\n")
    return path


# -- the command ---------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `clinic2fa defects`."""
    parser.add_argument("--check", action="store_true",
                        help="run the suite on each defect and show which scenarios catch it")
    parser.add_argument("--targets", default="memory,http", metavar="KINDS",
                        help="with --check: memory, http, or memory,http (the default)")
    parser.add_argument("--report-dir", type=Path, default=DEFAULT_REPORT_DIR, metavar="DIR",
                        help="where defects.json and each run's reports go (./reports)")
    parser.add_argument("--select", nargs="+", action="extend", default=[],
                        metavar="NAME-or-glob", help="only the defects whose names match")


def command(args: argparse.Namespace, out: TextIO | None = None,
            err: TextIO | None = None) -> int:
    """Entry point for `clinic2fa defects`: 0 all caught, 1 not, 2 usage error."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        defects = choose(args.select)
        targets = parse_targets(args.targets)
        if args.check:
            check_writable(args.report_dir)
        root = args.report_dir
    except UsageError as exc:
        print(f"clinic2fa defects: {exc}", file=err)
        return ExitCode.USAGE
    if not args.check:
        print(listing(defects), file=out)
        if not args.select:  # the whole catalogue: and what it covers of the fault model
            rows = coverage.coverage()
            print(f"\n{table(coverage.shown(rows), coverage.HEADER)}\n\n{coverage.totals(rows)}",
                  file=out)
        return ExitCode.CONFORMS

    console = Console(out)
    say = console.say
    runs = len(defects) * len(targets) + 1 + ("http" in targets)
    say(f"checking {len(defects)} defects on {', '.join(targets)}: {runs} runs of the suite, "
        "the clean reference first")
    result = check(defects, targets, root, say, console.status)
    path = write(result, root)
    say("")
    say(summary_table(result))
    say("")
    say(f"{verdict_line(result)}; {path}")
    return result.exit_code
