"""The three reports: report.json valid against its schema, junit.xml, report.html, written
atomically and with no secret in any of them."""

from __future__ import annotations

import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import jsonschema
import pytest
import runner_support
from runner_support import (
    CLOCK,
    CRASHY,
    LEAKY,
    REPLAY,
    SIGN_IN,
    SKEW,
    DroppingProvider,
    catalogue,
    crashing,
    failing,
    run_here,
)

from clinic2fa.scenarios.contract import ConfigExhausted, FeatureAbsent, Inconclusive, Unsupported
from clinic2fa.scenarios.core.model import Level
from clinic2fa.scenarios.reports import document as report

SCHEMA = json.loads(resources.files("clinic2fa.spec").joinpath("report.schema.json")
                    .read_text(encoding="utf-8"))
EVERY_OUTCOME = catalogue(SIGN_IN, REPLAY, SKEW, CLOCK, LEAKY, CRASHY,
                          failing("T-WARN", Level.SHOULD, "no reason shown"),
                          failing("T-WAIVED", Level.MUST, "known bug"))


def validate(data: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(data)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> runner_support.Outcome:
    """One run with every outcome: pass, fail, error, not applicable, waived, warning."""
    tmp = tmp_path_factory.mktemp("mixed")
    waivers = tmp / "waivers.toml"
    waivers.write_text('[[waiver]]\nscenario = "T-WAIVED"\nreason = "CLIN-7"\n'
                       '[[waiver]]\nscenario = "T-REPLAY"\nreason = "CLIN-8"\n')
    runner_support.SECRETS.clear()
    done = run_here(tmp, EVERY_OUTCOME, provider=runner_support.memory_of(),
                    waivers=waivers)
    done.extra["secrets"] = list(runner_support.SECRETS)
    done.extra["clockless"] = run_here(tmp / "clockless", catalogue(SIGN_IN, CLOCK),
                                       provider=_clockless())
    return done


def _clockless() -> Any:
    provider = runner_support.memory_of()
    provider.capabilities = frozenset()
    return provider


def test_the_report_validates_against_its_schema(mixed: runner_support.Outcome) -> None:
    data = mixed.report()
    validate(data)
    assert data["schema_version"] == "1.2"
    assert mixed.outcomes() == {
        "T-SIGN-IN": "pass", "T-REPLAY": "waived_pass", "T-SKEW": "pass", "T-CLOCK": "pass",
        "T-LEAKY": "fail", "T-CRASHY": "error", "T-WARN": "fail", "T-WAIVED": "waived_fail"}
    assert data["summary"] | {} == data["summary"]
    assert (data["summary"]["warnings"], data["summary"]["blocking"]) == (1, 2)
    assert data["harness"]["version"] == report.harness_version() != "unknown"
    assert data["started"] <= data["finished"]


def test_every_kind_of_report_validates(tmp_path: Path) -> None:
    aborted = run_here(tmp_path / "a", catalogue(SIGN_IN, REPLAY),
                       provider=DroppingProvider(alive=1))
    validate(aborted.report())
    clockless = run_here(tmp_path / "b", catalogue(CLOCK), provider=_clockless())
    validate(clockless.report())


def test_not_applicable_appears_and_is_never_a_pass(mixed: runner_support.Outcome) -> None:
    data = mixed.extra["clockless"].report()
    scen = next(s for s in data["scenarios"] if s["id"] == "T-CLOCK")
    assert (scen["outcome"], scen["message"]) == ("not_applicable",
                                                  "the target does not offer clock")
    assert data["summary"]["pass"] == 1 and data["summary"]["not_applicable"] == 1
    window = next(r for r in data["requirements"] if r["id"] == "TOTP-WINDOW")
    assert window["verdict"] == "not_verified"
    assert "not applicable" in (mixed.extra["clockless"].report_dir / "report.html").read_text()


UNANSWERED = catalogue(
    SIGN_IN,
    crashing("T-UNSUPPORTED", Unsupported("the page cannot replay a passkey answer")),
    crashing("T-INCONCLUSIVE", Inconclusive("the time step changed; run it again")),
    crashing("T-NO-ACCOUNT", ConfigExhausted("the [[staff]] pool is used up")),
    crashing("T-ABSENT", FeatureAbsent("no clinic-wide enforcement"), ["ENFORCE-OWNER-ONLY"]))


def test_each_way_a_target_cannot_answer_is_its_own_outcome_in_every_report(
        tmp_path: Path) -> None:
    done = run_here(tmp_path, UNANSWERED, provider=runner_support.memory_of())
    data = done.report()
    validate(data)
    assert done.outcomes() == {"T-SIGN-IN": "pass", "T-UNSUPPORTED": "unsupported",
                               "T-INCONCLUSIVE": "inconclusive",
                               "T-NO-ACCOUNT": "config_exhausted", "T-ABSENT": "feature_absent"}
    assert done.code == 1, "a missing feature the guide asks for fails the run"
    by_id = {e["id"]: e for e in (*data["guide_items"], *data["requirements"])}
    assert by_id["STEP-8"]["verdict"] == "does_not_conform"  # the guide asks for enforcement
    assert by_id["ENFORCE-OWNER-ONLY"]["verdict"] == "not_verified"  # nothing to check it on
    assert by_id["AUDIT-LOG"]["verdict"] == "not_verified"
    suite = ET.parse(done.report_dir / "junit.xml").getroot()  # noqa: S314 - our own file
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    for name, kind in (("T-UNSUPPORTED", "unsupported"), ("T-INCONCLUSIVE", "inconclusive"),
                       ("T-NO-ACCOUNT", "config_exhausted")):
        skipped = cases[name].find("skipped")
        assert skipped is not None and skipped.get("type") == kind, name
    failure = cases["T-ABSENT"].find("failure")
    assert failure is not None and "feature absent" in failure.get("message", "")
    html = (done.report_dir / "report.html").read_text(encoding="utf-8")
    for word in ("unsupported", "inconclusive", "no account left", "feature absent"):
        assert word in html
    assert "ABSENT" in done.out and "UNSUPPORTED" in done.out and "INCONCLUSIVE" in done.out


def test_spec_items_show_their_scenarios_and_gaps(mixed: runner_support.Outcome) -> None:
    data = mixed.report()
    by_id = {e["id"]: e for e in (*data["guide_items"], *data["requirements"])}
    assert by_id["SIGNIN-SECOND-STEP"]["scenarios"] == [{"id": "T-SIGN-IN", "outcome": "pass"}]
    assert by_id["SIGNIN-SECOND-STEP"]["verdict"] == "conforms"
    assert by_id["SECRET-NOT-DISCLOSED"]["verdict"] == "does_not_conform"
    assert by_id["PASSWORD-HASH"]["verdict"] == "not_verified"  # its scenario crashed
    assert by_id["BACKUP-COUNT"] == by_id["BACKUP-COUNT"] | {"verdict": "gap", "scenarios": []}
    # a guide item collects the scenarios of the requirements that serve it
    step6 = {r["id"] for r in by_id["STEP-6"]["scenarios"]}
    assert {"T-SIGN-IN", "T-REPLAY", "T-CLOCK"} <= step6
    counts = data["spec_summary"]
    assert sum(counts.values()) == len(data["guide_items"]) + len(data["requirements"])
    assert counts["gap"] > 0


def test_junit_has_one_testcase_per_scenario(mixed: runner_support.Outcome) -> None:
    suite = ET.parse(mixed.report_dir / "junit.xml").getroot()  # noqa: S314 - our own file
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert list(cases) == list(mixed.outcomes())
    assert cases["T-SIGN-IN"].find("failure") is None
    failure = cases["T-LEAKY"].find("failure")
    assert failure is not None and "leaked" in failure.get("message", "")
    assert cases["T-CRASHY"].find("error") is not None
    assert cases["T-WAIVED"].find("skipped") is not None
    assert cases["T-WARN"].find("failure") is None  # a SHOULD warning does not fail CI...
    assert "WARNING" in (cases["T-WARN"].findtext("system-out") or "")  # ...but shows
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("8", "1", "1")


def test_the_html_page_is_self_contained_with_the_matrix_first(
        mixed: runner_support.Outcome) -> None:
    page = (mixed.report_dir / "report.html").read_text(encoding="utf-8")
    assert page.index("Traceability: the guide") < page.index("Traceability: the requirements") \
        < page.index("<h2>Scenarios</h2>")
    for scen in mixed.outcomes():
        assert f'id="sc-{scen}"' in page
    assert not re.search(r"<(script|link|img|iframe)\b|\bsrc=|url\(", page)
    assert "waived but passed: remove the waiver" in page
    assert ">gap<" in page


def test_no_secret_the_run_handled_is_in_any_report(mixed: runner_support.Outcome) -> None:
    secrets = [s for s in mixed.extra["secrets"] if len(s) >= 6]
    assert len(secrets) > 20  # passwords, codes, backup codes, the TOTP secret, sessions
    texts = {p.name: p.read_text(encoding="utf-8") for p in mixed.report_dir.iterdir()}
    assert set(texts) == {"report.json", "junit.xml", "report.html"}
    for name, text in texts.items():
        for secret in secrets:
            assert not re.search(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])",
                                 text), f"{name} holds a secret"
    leaky = next(s for s in mixed.report()["scenarios"] if s["id"] == "T-LEAKY")
    assert leaky["message"].count("[redacted]") == 3
    crashy = next(s for s in mixed.report()["scenarios"] if s["id"] == "T-CRASHY")
    assert "unexpected session [redacted] for [redacted]" in crashy["detail"]


def test_reports_are_replaced_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "report.json"
    target.write_text("the previous report\n")

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        report.write_atomic(target, "x" * 100_000)
    assert target.read_text() == "the previous report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left


def test_the_report_dir_is_created(tmp_path: Path) -> None:
    done = run_here(tmp_path / "deep" / "er", catalogue(SIGN_IN))
    assert done.code == 0 and (done.report_dir / "report.html").is_file()


def test_an_unwritable_report_dir_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = run_here(tmp_path, catalogue(SIGN_IN), report_dir=blocker / "reports")
    assert done.code == 2 and "cannot create the report directory" in done.err
