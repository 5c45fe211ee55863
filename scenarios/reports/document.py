"""report.json, junit.xml and report.html from one run, scrubbed, each written atomically."""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from clinic2fa import spec
from clinic2fa.scenarios.catalogue import spec_ids
from clinic2fa.scenarios.core.model import Scenario
from clinic2fa.scenarios.targets.clock import ClockEstimate
from clinic2fa.scenarios.core.trace import REDACTED
from clinic2fa.scenarios.core.verdicts import Outcome, ScenarioResult, Verdict, spec_verdict

SCHEMA_VERSION = "1.2"
# Outcomes JUnit shows as skipped: nothing decided, or a failure the waivers file expects.
SKIPPED = (Outcome.NOT_APPLICABLE, Outcome.UNSUPPORTED, Outcome.INCONCLUSIVE,
           Outcome.CONFIG_EXHAUSTED, Outcome.WAIVED_FAIL)
JSON_NAME, JUNIT_NAME, HTML_NAME = "report.json", "junit.xml", "report.html"


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
    summary = {o.value: 0 for o in Outcome}
    for result in run.results:
        summary[result.outcome.value] += 1
    summary |= {"scenarios": len(run.selected), "run": len(run.results),
                "not_run": len(run.selected) - len(run.results),
                "warnings": sum(r.warning for r in run.results),
                "blocking": sum(r.blocking for r in run.results)}
    covering = {s.id: spec_ids(s, loaded) for s in run.catalogue.values()}

    def behind(spec_id: str, direct: bool) -> list[dict[str, Any]]:
        return [{"id": sid, "outcome": outcomes[sid].value if sid in outcomes else "not_run"}
                for sid, scen in run.catalogue.items()
                if spec_id in (scen.verifies if direct else covering[sid])]

    def verdict(rows: list[dict[str, Any]], guide_item: bool = False) -> str:
        return spec_verdict((None if r["outcome"] == "not_run" else Outcome(r["outcome"])
                             for r in rows), guide_item=guide_item).value

    items = []
    for item in loaded.guide_items:
        rows = behind(item.id, direct=False)
        items.append({"id": item.id, "kind": item.kind, "title": item.title, "text": item.text,
                      "requirements": [r.id for r in loaded.requirements_serving(item.id)],
                      "verdict": verdict(rows, guide_item=True), "scenarios": rows})
    requirements = []
    for req in loaded.requirements:
        rows = behind(req.id, direct=True)
        requirements.append({"id": req.id, "level": req.level, "title": req.title,
                             "statement": req.statement, "citation": req.citation,
                             "serves": list(req.serves), "verdict": verdict(rows),
                             "scenarios": rows})
    spec_summary = {v.value: 0 for v in Verdict}
    for entry in (*items, *requirements):
        spec_summary[entry["verdict"]] += 1
    return {
        "schema_version": SCHEMA_VERSION,
        "harness": {"name": "clinic2fa", "version": harness_version()},
        "target": {"name": run.target, "kind": run.target_kind, "reference": run.reference,
                   "capabilities": sorted(run.capabilities),
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
        "scenarios": [_scrubbed(_scenario(r), r.trace.secrets | run.secrets)
                      for r in run.results],
    }


def _scenario(result: ScenarioResult) -> dict[str, Any]:
    scen = result.scenario
    entries = result.trace.entries
    first = entries[0].at if entries else 0.0
    entry: dict[str, Any] = {
        "id": scen.id, "title": scen.title, "level": scen.level.value,
        "verifies": list(scen.verifies), "quote": scen.quote, "module": scen.module,
        "needs": [n.value for n in scen.needs], "outcome": result.outcome.value,
        "blocking": result.blocking, "warning": result.warning,
        "duration_seconds": round(result.duration, 4), "message": result.message,
        "waiver": result.waiver, "detail": result.detail,
        "trace": [{"kind": e.kind, "text": e.text, "ok": e.ok, "detail": e.detail,
                   "at": round(e.at - first, 4)} for e in entries],
    }
    if result.evidence:  # a browser target's screenshots and traces (files in the report dir)
        entry["evidence"] = result.evidence
    return entry


def _scrubbed(value: Any, handled: Iterable[str]) -> Any:
    """The final pass: any literal secret the run handled, wherever a string still holds it."""
    literals = sorted({s for s in handled if s}, key=len, reverse=True)
    if not literals:
        return value
    pattern = re.compile("|".join(map(re.escape, literals)))

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return pattern.sub(REDACTED, node)
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(value)


# -- junit.xml ----------------------------------------------------------------------------------


def junit_xml(report: dict[str, Any]) -> str:
    """One testcase per scenario: failure (blocking fail), error, skipped (n/a, waived)."""
    summary = report["summary"]
    suite = ET.Element("testsuite", {
        "name": "clinic2fa", "tests": str(summary["run"]),
        "failures": str(sum(s["outcome"] == "fail" and s["blocking"]
                            for s in report["scenarios"])),
        "errors": str(summary["error"]),
        "skipped": str(sum(summary[o.value] for o in SKIPPED)),
        "time": str(report["duration_seconds"]), "timestamp": report["started"] or ""})
    props = ET.SubElement(suite, "properties")
    for name, value in (("target", report["target"]["name"]),
                        ("harness_version", report["harness"]["version"]),
                        ("strict", str(report["options"]["strict"]).lower())):
        ET.SubElement(props, "property", {"name": name, "value": value})
    for scen in report["scenarios"]:
        case = ET.SubElement(suite, "testcase", {
            "classname": f"clinic2fa.{scen['module'].rpartition('.')[2] or 'scenarios'}",
            "name": scen["id"], "time": str(scen["duration_seconds"])})
        outcome, message = scen["outcome"], scen["message"]
        if outcome in ("fail", "feature_absent") and scen["blocking"]:
            kind = "feature absent: " if outcome == "feature_absent" else ""
            ET.SubElement(case, "failure", {"message": f"{kind}{message}",
                                            "type": scen["level"]}).text = \
                f"{scen['id']} ({scen['level']}): {kind}{message}"
        elif outcome == "error":
            ET.SubElement(case, "error", {"message": message}).text = scen["detail"] or message
        elif outcome in {o.value for o in SKIPPED}:
            word = outcome.replace("_", " ")
            ET.SubElement(case, "skipped", {"message": f"{word}: {message}", "type": outcome})
        if outcome in ("fail", "feature_absent") and not scen["blocking"]:
            ET.SubElement(case, "system-out").text = f"WARNING (SHOULD): {message}"
        elif outcome == "waived_pass":
            ET.SubElement(case, "system-out").text = message
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


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
