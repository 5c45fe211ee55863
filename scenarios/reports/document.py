"""report.json, junit.xml and report.html from one run, scrubbed, each written atomically."""

from __future__ import annotations

import inspect
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from clinic2fa import spec
from clinic2fa.scenarios import catalogue as catalogue_pkg
from clinic2fa.scenarios.catalogue import spec_ids
from clinic2fa.scenarios.core.model import Scenario
from clinic2fa.scenarios.core.policy import REFERENCE, Policy, shown
from clinic2fa.scenarios.core.policy import keys as policy_keys
from clinic2fa.scenarios.core.trace import REDACTED
from clinic2fa.scenarios.core.verdicts import (
    PARTIAL,
    Outcome,
    Row,
    ScenarioResult,
    Verdict,
    spec_verdict,
    verdict_kind,
)
from clinic2fa.scenarios.reports.words import describe_target, headline
from clinic2fa.scenarios.targets.clock import ClockEstimate

SCHEMA_VERSION = "1.2"
# Outcomes JUnit shows as skipped: nothing decided, or a failure the waivers file expects.
SKIPPED = (Outcome.NOT_APPLICABLE, Outcome.UNSUPPORTED, Outcome.INCONCLUSIVE,
           Outcome.CONFIG_EXHAUSTED, Outcome.WAIVED_FAIL)
JSON_NAME, JUNIT_NAME, HTML_NAME = "report.json", "junit.xml", "report.html"
FAILED_OUTCOMES = (Outcome.FAIL, Outcome.FEATURE_ABSENT, Outcome.WAIVED_FAIL, Outcome.ERROR)
TRACE_TAIL = 8  # the last trace entries a JUnit failure shows
# the <ID>-DECLARED scenarios (choices against bounds), by name: importing the module here
# would register its scenarios first, and the catalogue's order is the order of import
DECLARED_MODULE = f"{catalogue_pkg.__name__}.declared"


@dataclass
class RunRecord:
    """Everything a report says, gathered by the plugin while the run goes."""

    target: str
    target_kind: str
    reference: bool
    capabilities: list[str]
    clock: ClockEstimate | None
    catalogue: Mapping[str, Scenario]
    selected: list[Scenario]
    strict: bool = False
    select: list[str] = field(default_factory=list)
    waivers_file: str | None = None
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished: datetime | None = None
    results: list[ScenarioResult] = field(default_factory=list)
    aborted: str | None = None
    exit_code: int = 0
    secrets: set[str] = field(default_factory=set)  # run-wide literals (config passwords)
    browser: dict[str, Any] | None = None  # a browser target's mapping and evidence, if any
    policy: Policy | None = None  # what the deployment declared (None: the reference's)
    user_tests: dict[str, int] | None = None  # plugin mode: the user's own tests beside these


def harness_version() -> str:
    try:
        return metadata.version("clinic2fa")
    except metadata.PackageNotFoundError:
        return "unknown"


def _stamp(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") \
        if when else None


def build(run: RunRecord, loaded: spec.Spec | None = None) -> dict[str, Any]:
    """The report as data (the shape spec/report.schema.json describes), already scrubbed."""
    loaded = loaded or spec.load()
    outcomes = {r.scenario.id: r.outcome for r in run.results}
    absent = {r.scenario.id: r.feature for r in run.results if r.feature}
    neutral = {r.scenario.id for r in run.results
               if r.outcome is Outcome.NOT_APPLICABLE and not r.binds}
    summary = {o.value: 0 for o in Outcome}
    for result in run.results:
        summary[result.outcome.value] += 1
    summary |= {"scenarios": len(run.selected), "run": len(run.results),
                "not_run": len(run.selected) - len(run.results),
                "warnings": sum(r.warning for r in run.results),
                "blocking": sum(r.blocking for r in run.results)}
    covering = {s.id: spec_ids(s, loaded) for s in run.catalogue.values()}
    policy = run.policy or REFERENCE
    used = {r.scenario.id: r.trace.policy for r in run.results}

    def checked_against(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The declared values the scenarios behind a spec item read, and which were declared."""
        merged: dict[str, Any] = {}
        for row in rows:
            merged.update(used.get(row["id"], {}))
        return [{"key": key, "value": value, "declared": _declared(policy, key)}
                for key, value in sorted(merged.items())]

    guide_ids = [item.id for item in loaded.guide_items]

    def behind(spec_id: str, direct: bool) -> list[dict[str, Any]]:
        return [{"id": sid, "outcome": outcomes[sid].value if sid in outcomes else "not_run",
                 **({"feature": absent[sid]} if sid in absent else {}),
                 **({"binds": False} if sid in neutral else {})}
                for sid, scen in run.catalogue.items()
                if spec_id in (scen.verifies if direct else covering[sid])]

    def counted(row: dict[str, Any]) -> Row:
        """A row as the verdict counts it. A declared choice inside the spec's bounds (an
        <ID>-DECLARED pass) only says what behaviour to look for: alone it makes nothing
        conform (a choice outside them fails, as any broken rule), and it leaves nothing
        unseen; nor does a scenario the deployment's declared choice made not applicable."""
        if row["outcome"] == "not_run":
            return Row(None)
        outcome = Outcome(row["outcome"])
        if outcome is Outcome.PASS and run.catalogue[row["id"]].module == DECLARED_MODULE:
            return Row(Outcome.NOT_APPLICABLE, binds=False)
        return Row(outcome, row.get("feature"), row.get("binds", True))

    def judged(rows: list[dict[str, Any]], guide_item: str | bool = False) -> dict[str, Any]:
        seen = [counted(r) for r in rows]
        kind = verdict_kind(seen, guide_item=guide_item)
        partly = {"passed": [r["id"] for r, c in zip(rows, seen, strict=True) if c.passed],
                  "could_not_run": [r["id"] for r, c in zip(rows, seen, strict=True)
                                    if c.unseen]} if kind == PARTIAL else None
        return {"verdict": spec_verdict(seen, guide_item=guide_item).value,
                **({"verdict_kind": kind} if kind else {}),
                **({"partial": partly} if partly else {})}

    items = []
    for item in loaded.guide_items:
        rows = behind(item.id, direct=False)
        items.append({"id": item.id, "kind": item.kind, "title": item.title, "text": item.text,
                      "requirements": [r.id for r in loaded.requirements_serving(item.id)],
                      **judged(rows, guide_item=item.id), "policy": checked_against(rows),
                      "scenarios": rows})
    requirements = []
    for req in loaded.requirements:
        rows = behind(req.id, direct=True)
        requirements.append({"id": req.id, "level": req.level, "title": req.title,
                             "statement": req.statement, "citation": req.citation,
                             "serves": list(req.serves), **judged(rows),
                             "policy": checked_against(rows), "scenarios": rows})
    spec_summary = {v.value: 0 for v in Verdict}
    for entry in (*items, *requirements):
        spec_summary[entry["verdict"]] += 1
    report = {
        "schema_version": SCHEMA_VERSION,
        "harness": {"name": "clinic2fa", "version": harness_version()},
        "target": {"name": run.target, "kind": run.target_kind, "reference": run.reference,
                   "description": describe_target(run.target_kind, run.reference),
                   "capabilities": sorted(run.capabilities),
                   "policy": _policy(policy),
                   **({"browser": run.browser} if run.browser is not None else {})},
        "clock": run.clock.to_dict() if run.clock else None,
        "options": {"strict": run.strict, "select": list(run.select),
                    "waivers": run.waivers_file},
        "started": _stamp(run.started),
        "finished": _stamp(run.finished),
        "duration_seconds": round(((run.finished or run.started) - run.started)
                                  .total_seconds(), 3),
        "aborted": run.aborted,
        "exit_code": run.exit_code,
        "conforms": run.exit_code == 0,
        "summary": summary,
        "spec_summary": spec_summary,
        "guide_items": items,
        "requirements": requirements,
        "scenarios": [_scrubbed(_scenario(r, loaded, guide_ids), r.trace.secrets | run.secrets)
                      for r in run.results],
        **({"user_tests": dict(run.user_tests)} if run.user_tests is not None else {}),
    }
    report["headline"] = headline(report)
    return report


def _declared(policy: Policy, key: str) -> bool:
    """A key the config gave ("reasons.time_skew" is declared with "reasons")."""
    return key in policy.declared or key.partition(".")[0] in policy.declared


def _policy(policy: Policy) -> dict[str, Any]:
    """The whole policy the run was checked against, and which keys the config declared."""
    return {"declared": sorted(policy.declared),
            "values": {key: shown(policy.value(key)) for key in policy_keys()}}


def _scenario(result: ScenarioResult, loaded: spec.Spec, guide_ids: list[str]
              ) -> dict[str, Any]:
    scen = result.scenario
    entries = result.trace.entries
    first = entries[0].at if entries else 0.0
    serves = spec_ids(scen, loaded)
    entry: dict[str, Any] = {
        "id": scen.id, "title": scen.title, "level": scen.level.value,
        "verifies": list(scen.verifies), "quote": scen.quote, "module": scen.module,
        "guide_items": [g for g in guide_ids if g in serves],
        "source": source_of(scen),
        "failure": failure_of(result),
        "needs": [n.value for n in scen.needs], "outcome": result.outcome.value,
        "blocking": result.blocking, "warning": result.warning,
        "duration_seconds": round(result.duration, 4), "message": result.message,
        "waiver": result.waiver, "detail": result.detail,
        "not_verified": result.trace.not_verified,
        "policy": dict(sorted(result.trace.policy.items())),
        "trace": [{"kind": e.kind, "text": e.text, "ok": e.ok, "detail": e.detail,
                   "at": round(e.at - first, 4)} for e in entries],
    }
    if result.evidence:  # a browser target's screenshots and traces (files in the report dir)
        entry["evidence"] = result.evidence
    return entry


def source_of(scen: Scenario) -> dict[str, Any] | None:
    """Where the scenario is written, for CI annotations: a path relative to the current folder
    when it is under it (this repository), else from the installed `clinic2fa/` folder on."""
    try:
        file = Path(inspect.getsourcefile(scen.run) or "")
        line = scen.run.__code__.co_firstlineno
    except (TypeError, AttributeError, OSError):
        return None
    if not file.name:
        return None
    try:
        shown = str(file.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        parts = file.parts
        shown = str(Path(*parts[parts.index("clinic2fa"):])) if "clinic2fa" in parts \
            else str(file)
    return {"file": shown, "line": line}


def failure_of(result: ScenarioResult) -> dict[str, str] | None:
    """What the scenario expected and what the target did, for a failure; None otherwise."""
    if result.outcome not in FAILED_OUTCOMES:
        return None
    failed = next((e for e in reversed(result.trace.entries)
                   if e.kind == "check" and e.ok is False), None)
    if failed is not None and failed.detail.get("expected"):
        return {"expected": failed.detail["expected"], "got": failed.detail.get("got", "")}
    return {"expected": result.scenario.title, "got": result.message}


def _scrubbed(value: Any, handled: Iterable[str]) -> Any:
    """The final pass: any literal secret the run handled, wherever a string still holds it.

    Longest first, each literal replaced wherever it occurs: a secret inside a longer one goes
    with it. Substring tests rather than one compiled alternation, which cost more to compile
    for each scenario than the whole scrub.
    """
    literals = sorted({s for s in handled if s}, key=len, reverse=True)
    if not literals:
        return value

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            for literal in literals:
                if literal in node:
                    node = node.replace(literal, REDACTED)
            return node
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(value)


# -- junit.xml ----------------------------------------------------------------------------------


def junit_xml(report: dict[str, Any]) -> str:
    """One testcase per scenario: failure (blocking fail), error, skipped (n/a, waived).

    Each carries its spec IDs, level and guide items as properties and `file`/`line` of the
    scenario's source (for CI annotations); a failure's body quotes the rule, says what was
    expected and what the target did, and ends with the last trace entries. A run that stopped
    early (the target unreachable at the start, interrupted) adds one error case saying why.
    """
    summary = report["summary"]
    stopped = bool(report["aborted"]) and (summary["not_run"] > 0 or not summary["run"])
    suite = ET.Element("testsuite", {
        "name": "clinic2fa", "tests": str(summary["run"] + stopped),
        "failures": str(sum(s["outcome"] in ("fail", "feature_absent") and s["blocking"]
                            for s in report["scenarios"])),
        "errors": str(summary["error"] + stopped),
        "skipped": str(sum(summary[o.value] for o in SKIPPED)),
        "time": str(report["duration_seconds"]), "timestamp": report["started"] or ""})
    props = ET.SubElement(suite, "properties")
    for name, value in (("target", report["target"]["name"]),
                        ("harness_version", report["harness"]["version"]),
                        ("strict", str(report["options"]["strict"]).lower()),
                        ("headline", report.get("headline", ""))):
        ET.SubElement(props, "property", {"name": name, "value": value})
    for scen in report["scenarios"]:
        _testcase(suite, scen)
    if stopped:
        case = ET.SubElement(suite, "testcase", {
            "classname": "clinic2fa.run", "time": "0",
            "name": "the run stopped before any scenario" if not summary["run"]
            else "the run stopped early"})
        ET.SubElement(case, "error", {"message": report["aborted"], "type": "stopped"}).text = \
            (f"{report['aborted']}\n{summary['not_run']} of {summary['scenarios']} scenarios "
             f"did not run (exit {report['exit_code']})")
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _testcase(suite: ET.Element, scen: dict[str, Any]) -> None:
    attributes = {"classname": f"clinic2fa.{scen['module'].rpartition('.')[2] or 'scenarios'}",
                  "name": scen["id"], "time": str(scen["duration_seconds"])}
    if scen.get("source"):
        attributes |= {"file": scen["source"]["file"], "line": str(scen["source"]["line"])}
    case = ET.SubElement(suite, "testcase", attributes)
    props = ET.SubElement(case, "properties")
    for name, values in (("spec_id", scen["verifies"]), ("level", [scen["level"]]),
                         ("guide_item", scen.get("guide_items", [])),
                         ("outcome", [scen["outcome"]])):
        for value in values:
            ET.SubElement(props, "property", {"name": name, "value": value})
    outcome, message = scen["outcome"], scen["message"]
    if outcome in ("fail", "feature_absent") and scen["blocking"]:
        kind = "feature absent: " if outcome == "feature_absent" else ""
        ET.SubElement(case, "failure", {"message": f"{kind}{message}",
                                        "type": scen["level"]}).text = failure_body(scen)
    elif outcome == "error":
        ET.SubElement(case, "error", {"message": message}).text = failure_body(scen)
    elif outcome in {o.value for o in SKIPPED}:
        word = outcome.replace("_", " ")
        ET.SubElement(case, "skipped", {"message": f"{word}: {message}", "type": outcome})
    if outcome in ("fail", "feature_absent") and not scen["blocking"]:
        ET.SubElement(case, "system-out").text = f"WARNING (SHOULD): {message}\n" + \
            failure_body(scen)
    elif outcome == "waived_pass":
        ET.SubElement(case, "system-out").text = message


def failure_body(scen: dict[str, Any]) -> str:
    """The rule, expected and got, the spec IDs, the traceback of an error, the last steps."""
    lines = [f"{scen['id']} [{scen['level']}] {scen['outcome'].replace('_', ' ')}: "
             f"{scen['message']}", f"rule: {scen['quote']}"]
    failure = scen.get("failure")
    if failure:
        lines += [f"expected: {failure['expected']}", f"got: {failure['got']}"]
    lines.append(f"spec: {', '.join(scen['verifies'])}"
                 + (f"; guide: {', '.join(scen['guide_items'])}" if scen.get("guide_items")
                    else ""))
    if scen.get("source"):
        lines.append(f"scenario: {scen['source']['file']}:{scen['source']['line']}")
    if scen["detail"]:
        lines.append(scen["detail"].rstrip())
    tail = scen["trace"][-TRACE_TAIL:]
    if tail:
        lines.append(f"last {len(tail)} of {len(scen['trace'])} trace entries:")
    for entry in tail:
        mark = "" if entry["ok"] is None else (" ok" if entry["ok"] else " FAILED")
        refused = entry["detail"].get("refused") if entry["kind"] == "call" else None
        said = f" -> refused {refused['code']}" if refused else ""
        lines.append(f"  {entry['at']:7.3f}s {entry['kind']}: {entry['text']}{said}{mark}")
    return "\n".join(lines)


# -- writing ------------------------------------------------------------------------------------


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: never a half-written report."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with open(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write(report: dict[str, Any], directory: Path) -> list[Path]:
    """report.json, junit.xml and report.html in `directory` (created)."""
    from clinic2fa.scenarios.reports.html import render

    directory.mkdir(parents=True, exist_ok=True)
    files = [(directory / JSON_NAME, json.dumps(report, indent=2, ensure_ascii=False) + "\n"),
             (directory / JUNIT_NAME, junit_xml(report)),
             (directory / HTML_NAME, render(report, directory))]
    for path, text in files:
        write_atomic(path, text)
    return [path for path, _ in files]
