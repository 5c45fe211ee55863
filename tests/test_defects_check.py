"""`clinic2fa defects`: the suite catches every seeded defect, on memory and over HTTP."""

from __future__ import annotations

import argparse
import io
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from clinic2fa.scenarios import catalogue as catalogue_mod
from clinic2fa.scenarios.contract import Needs
from clinic2fa.scenarios.selfcheck import check as dc
from clinic2fa.scenarios.selfcheck import defects, serve
from clinic2fa.simulator.clinic import Clinic

CATALOGUE = catalogue_mod.load()

# The kinds of defect issue 7 lists, by the spec ID each violates, and how many of each.
ISSUE_LIST = Counter({
    "TOTP-REPLAY": 1, "TOTP-WINDOW": 2, "TOTP-RATE-LIMIT": 1, "BACKUP-SINGLE-USE": 1,
    "BACKUP-COUNT": 1, "BACKUP-REGENERATE": 1, "SIGNIN-PENDING-GRANTS-NOTHING": 1,
    "SIGNIN-PENDING-EXPIRES": 1, "SETUP-FRESH-SECRET": 2, "SETUP-CONFIRM": 2,
    "MANUAL-SECRET": 1, "KEY-URI": 1, "BACKUP-SHOWN-ONCE": 1, "SECRET-NOT-DISCLOSED": 1,
    "DISABLE-REAUTH": 1, "DISABLE-ENFORCED": 1, "ENFORCE-OWNER-ONLY": 1,
    "ENFORCE-FORCES-ENROLMENT": 1, "ADMIN-DISABLE-ROLES": 1, "ADMIN-DISABLE-ENDS-SESSIONS": 1,
    "SIGNIN-SECOND-STEP": 1, "PASSKEY-CHALLENGE": 1, "PASSKEY-ORIGIN-RPID": 1,
    "PASSKEY-SIGN-COUNT": 1, "PASSKEY-OWN-CREDENTIAL": 1,
})

# Quick over HTTP: each is caught by one or two scenarios that need no clock moves or races.
HTTP_SAMPLE = ("too-few-backup-codes", "secret-disclosed", "pending-grants-access")

SCHEMA: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "spec" / "defects.schema.json").read_text(encoding="utf-8"))


def test_the_published_schema_names_this_harness_version_and_targets() -> None:
    properties = SCHEMA["properties"]
    assert properties["schema_version"] == {"const": dc.SCHEMA_VERSION}
    assert properties["targets"]["items"]["enum"] == list(dc.TARGET_KINDS)
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@dataclass
class Said:
    code: int
    out: str
    err: str
    root: Path

    def document(self) -> dict[str, Any]:
        data = json.loads((self.root / dc.JSON_NAME).read_text(encoding="utf-8"))
        jsonschema.validate(data, SCHEMA)
        return data


def command(root: Path, *argv: str) -> Said:
    """`clinic2fa defects ARGV --report-dir ROOT` in this process."""
    parser = argparse.ArgumentParser()
    dc.add_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    code = dc.command(parser.parse_args([*argv, "--report-dir", str(root)]), out, err)
    return Said(code, out.getvalue(), err.getvalue(), root)


# -- the catalogue of defects -------------------------------------------------------------------


def test_at_least_thirty_defects_each_breaking_a_spec_id_some_scenario_names() -> None:
    assert len(defects.CATALOGUE) >= 30
    for defect in defects.CATALOGUE.values():
        assert dc.naming(defect, CATALOGUE), f"no scenario names {defect.violates}"


def test_the_catalogue_covers_the_issues_list() -> None:
    have = Counter(v for d in defects.CATALOGUE.values() for v in d.violates)
    short = {sid: (want, have[sid]) for sid, want in ISSUE_LIST.items() if have[sid] < want}
    assert not short, f"spec ID: (defects wanted, defects there) {short}"


# -- the real check on memory: the clean reference, then one whole-suite run per defect ----------


def test_the_clean_reference_passes_every_scenario_on_memory(tmp_path: Path) -> None:
    clean = dc.check_clean("memory", tmp_path)
    assert clean.passed, clean.problem or clean.broken
    assert set(clean.outcomes) == set(CATALOGUE)
    assert set(clean.outcomes.values()) <= {"pass", "not_applicable"}
    web = {s.id for s in CATALOGUE.values() if Needs.HTTP in s.needs}  # nothing travels here
    assert {sid for sid, o in clean.outcomes.items() if o != "pass"} == web


@pytest.mark.parametrize("name", [n for n, d in defects.CATALOGUE.items() if d.shows("memory")])
def test_caught_on_memory(name: str, tmp_path: Path) -> None:
    defect = defects.CATALOGUE[name]
    finding = dc.check_memory(defect, CATALOGUE, tmp_path)
    assert finding.run.outcomes.keys() == CATALOGUE.keys()  # the whole suite ran
    assert finding.caught, (f"{name} ({', '.join(defect.violates)}) MISSED: scenarios naming "
                            f"it {dc.naming(defect, CATALOGUE)} all passed; failing instead: "
                            f"{finding.other_failing}")
    assert set(finding.catching) <= set(dc.naming(defect, CATALOGUE))


# -- over HTTP: `clinic2fa serve --defect NAME` in-process, the scenarios naming its spec IDs ----


def test_a_sample_over_http_is_caught_and_a_clean_server_passes_the_same(tmp_path: Path) -> None:
    said = command(tmp_path, "--check", "--targets", "http", "--select", *HTTP_SAMPLE)
    assert said.code == 0, said.out + said.err
    data = said.document()
    chosen = {sid for n in HTTP_SAMPLE for sid in dc.naming(defects.CATALOGUE[n], CATALOGUE)}
    clean = data["clean"]["http"]
    assert clean["passed"] and clean["scenarios_run"] == len(chosen) and not clean["failing"]
    assert data["clean"]["memory"]["passed"]
    for name in HTTP_SAMPLE:
        http = data["defects"][name]["targets"]["http"]
        naming = dc.naming(defects.CATALOGUE[name], CATALOGUE)
        assert http["caught"] and set(http["catching"]) <= set(naming), http
        assert http["scenarios_run"] == len(naming)  # only those, not the whole suite
        report = json.loads((tmp_path / http["report"]).read_text(encoding="utf-8"))
        assert report["target"]["kind"] == "http"
        assert report["target"]["name"].startswith("http://localhost:")


# -- the command ---------------------------------------------------------------------------------


def test_without_check_it_lists_every_defect(tmp_path: Path) -> None:
    said = command(tmp_path, "--select", "*")
    assert said.code == 0 and not said.err
    lines = said.out.splitlines()
    assert lines[0].split() == ["defect", "violates", "summary"]
    assert len(lines) == 2 + len(defects.CATALOGUE)
    for defect, line in zip(defects.CATALOGUE.values(), lines[2:], strict=True):
        assert line.startswith(defect.name) and defect.summary in line
        assert all(v in line for v in defect.violates)
    assert not (tmp_path / dc.JSON_NAME).exists()


def test_check_on_a_small_selection_prints_progress_a_table_and_writes_defects_json(
        tmp_path: Path) -> None:
    said = command(tmp_path / "out", "--check", "--targets", "memory",
                    "--select", "totp-replay", "uri-missing-*")
    assert said.code == 0, said.out + said.err
    lines = said.out.splitlines()
    # each run's line starts with n/N and the time left
    assert [re.match(r"\[(\d)/3\]", line)[1] for line in lines[1:4]] == ["1", "2", "3"]  # type: ignore[index]
    lines[1:4] = [re.sub(r"^\[\d/3\]( (under )?\S+ left)?  ", "", line) for line in lines[1:4]]
    assert lines[1].split()[:2] == ["clean", "memory"] and "passes all" in lines[1]
    name, target, _, word = lines[2].split()[:4]
    assert (name, target, word) == ("totp-replay", "memory", "caught")
    assert "TOTP-REPLAY-TWO-SIGN-INS" in lines[2]
    assert "uri-missing-issuer" in lines[3] and "caught  by KEY-URI-FORMAT" in lines[3]
    header = next(i for i, line in enumerate(lines) if line.startswith("defect "))
    assert lines[header].split() == ["defect", "caught", "by", "targets", "caught", "on"]
    rows = {line.split()[0]: line for line in lines[header + 2:header + 4]}
    assert rows.keys() == {"totp-replay", "uri-missing-issuer"}
    assert rows["uri-missing-issuer"].split()[1:] == ["KEY-URI-FORMAT", "memory"]
    assert lines[-1].startswith("2 of 2 defect runs caught (exit 0)")

    data = said.document()
    assert data["targets"] == ["memory"] and data["missed"] == [] and data["exit_code"] == 0
    assert list(data["defects"]) == ["totp-replay", "uri-missing-issuer"]
    issuer = data["defects"]["uri-missing-issuer"]
    assert issuer["violates"] == ["KEY-URI"]
    assert issuer["targets"]["memory"]["catching"] == ["KEY-URI-FORMAT"]
    assert issuer["targets"]["memory"]["scenarios_run"] == len(CATALOGUE)
    assert (said.root / issuer["targets"]["memory"]["report"]).is_file()
    assert sorted(p.name for p in said.root.iterdir()) == ["defects", dc.JSON_NAME]  # no temp


def test_a_defect_no_scenario_catches_is_missed_and_exits_1(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A "defect" that is the reference itself: the scenarios naming its rule all pass."""
    monkeypatch.setitem(defects.CATALOGUE, "harmless", defects.Defect(
        "harmless", ("TOTP-REPLAY",), "breaks nothing", Clinic))
    said = command(tmp_path, "--check", "--targets", "memory", "--select", "harmless")
    assert said.code == 1, said.out + said.err
    assert "MISSED  no scenario naming its spec IDs failed" in said.out
    assert "MISSED on memory" in said.out
    data = said.document()
    assert data["missed"] == [{"defect": "harmless", "target": "memory"}]
    assert data["exit_code"] == 1
    assert data["defects"]["harmless"]["targets"]["memory"]["caught"] is False


def test_a_defect_of_the_web_layer_is_not_run_in_memory_nor_counted_missed(
        tmp_path: Path) -> None:
    """secret-cacheable is a header: in memory nothing travels, so it shows only over HTTP."""
    assert not defects.CATALOGUE["secret-cacheable"].shows("memory")
    said = command(tmp_path, "--check", "--targets", "memory", "--select", "secret-cacheable")
    assert said.code == 0, said.out + said.err
    assert "n/a on memory" in said.out and "0 of 0 defect runs caught" in said.out
    assert said.document()["missed"] == []


@pytest.mark.parametrize(("argv", "message"), [
    (["--check", "--targets", "memory,ftp"], "--targets 'memory,ftp': expected"),
    (["--check", "--targets", ","], "--targets ',': expected"),
    (["--check", "--select", "no-such-defect"], "--select no-such-defect matches no defect"),
    (["--select", "totp-*", "nope*"], "--select nope* matches no defect"),
])
def test_usage_errors_exit_2_with_one_line(tmp_path: Path, argv: list[str],
                                           message: str) -> None:
    said = command(tmp_path, *argv)
    assert said.code == 2
    assert said.out == ""
    assert said.err.count("\n") == 1 and said.err.startswith(f"clinic2fa defects: {message}")
    assert not (tmp_path / dc.JSON_NAME).exists()


def test_over_http_nothing_to_run_never_means_the_whole_suite(tmp_path: Path) -> None:
    """A defect no scenario names runs nothing over HTTP (an empty --select would run all)."""
    done = dc.run_served("totp-replay", tmp_path, [])
    assert (done.outcomes, done.report) == ({}, None)
    assert done.problem == "no scenario names its spec IDs"
    assert not dc.judge(defects.CATALOGUE["totp-replay"], "http", done, CATALOGUE).caught
    assert not any(tmp_path.iterdir())


# -- `clinic2fa serve --defect NAME`: resolved here, the server only gets a factory ---------------


def test_serve_defect_resolves_to_the_catalogues_factory_and_the_reference_without_one() -> None:
    assert serve.clinic_factory(None) is Clinic
    assert serve.clinic_factory("totp-replay") is defects.CATALOGUE["totp-replay"].build
    with pytest.raises(KeyError) as unknown:
        serve.clinic_factory("nope")
    assert unknown.value.args[0] == "unknown defect 'nope'; `clinic2fa defects` lists them"


def test_a_served_defect_resets_to_a_fresh_clinic_with_the_same_defect() -> None:
    with dc.serving("owner-cannot-enforce") as url:
        for _ in range(2):  # the owner is refused before and after a reset: a fresh broken clinic
            made = httpx.post(f"{url}/test-support/users", json={"role": "owner"}).json()
            token = httpx.post(f"{url}/api/v1/sign-in", json={
                "email": made["email"], "password": made["password"]}).json()["session"]
            changed = httpx.put(f"{url}/api/v1/settings/security/enforcement",
                                json={"required": True},
                                headers={"Authorization": f"Bearer {token}"})
            assert changed.status_code == 403, changed.text
            assert httpx.post(f"{url}/test-support/reset").status_code == 204
            assert httpx.post(f"{url}/api/v1/sign-in", json={
                "email": made["email"], "password": made["password"]}).status_code == 401
