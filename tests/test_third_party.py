"""The third-party comparison driver (examples/third_party.py): its comparison and its set-up."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

DRIVER = Path(__file__).resolve().parents[1] / "examples" / "third_party.py"


@pytest.fixture(scope="module")
def driver() -> ModuleType:
    spec = importlib.util.spec_from_file_location("third_party", DRIVER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["third_party"] = module
    spec.loader.exec_module(module)
    return module


EXPECTED = """
[[item]]
id = "STEP-1"
verdict = "conforms"
[[item]]
id = "ENFORCE-1"
verdict = "does_not_conform"
kind = "feature_absent"
[[item]]
id = "TOTP-WINDOW"
verdict = "does_not_conform"
kind = "fail"
"""


def _report(window: str = "does_not_conform", kind: str | None = "fail") -> dict:
    window_item = {"id": "TOTP-WINDOW", "verdict": window,
                   "scenarios": [{"id": "TOTP-WINDOW-1", "outcome": "pass"},
                                 {"id": "TOTP-WINDOW-2", "outcome": "error"}]}
    if kind:
        window_item["verdict_kind"] = kind
    return {
        "guide_items": [{"id": "STEP-1", "verdict": "conforms", "scenarios": []},
                        {"id": "ENFORCE-1", "verdict": "does_not_conform",
                         "verdict_kind": "feature_absent", "scenarios": []}],
        "requirements": [window_item],
        "scenarios": [{"id": "TOTP-WINDOW-2", "message": "the page\n showed nothing"}],
    }


def _app(driver: ModuleType, tmp_path: Path, profile: bool = True) -> object:
    (tmp_path / "expected.toml").write_text(EXPECTED)
    (tmp_path / "requirements.lock").write_text("")
    if profile:
        (tmp_path / "clinic2fa.toml").write_text("")
    (tmp_path / "serve.py").write_text(textwrap.dedent("""
        import os, pathlib, signal, sys
        pathlib.Path("pid").write_text(str(os.getpid()))
        print("starting on", sys.argv[1:], flush=True)
        print(f"serving http://localhost:{4000 + len(sys.argv)}/ (fake)", flush=True)
        signal.pause()
    """))
    return driver.App("fake", tmp_path, (sys.executable, "serve.py", "--port", "PORT"))


def test_a_report_as_expected_exits_0(driver: ModuleType, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    app = _app(driver, tmp_path)
    (tmp_path / "same.json").write_text(json.dumps(_report()))
    assert driver.main(["--app", "fake", "--compare", str(tmp_path / "same.json")],
                       apps=(app,)) == 0
    assert capsys.readouterr().out.splitlines() == [
        "fake: 3 of 3 items as expected, 0 differ (got: conforms 1, does_not_conform "
        "(fail) 1, does_not_conform (feature_absent) 1)"]


def test_one_difference_is_one_line_and_exit_1(driver: ModuleType, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    app = _app(driver, tmp_path)
    (tmp_path / "diff.json").write_text(json.dumps(_report("not_verified", None)))
    assert driver.main(["--app", "fake", "--compare", str(tmp_path / "diff.json")],
                       apps=(app,)) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("fake: TOTP-WINDOW: expected does_not_conform (fail), got not_verified"
                        " -- TOTP-WINDOW-2 error: the page showed nothing")
    assert lines[1].startswith("fake: 2 of 3 items as expected, 1 differ")


def test_the_kind_of_a_non_conformance_counts(driver: ModuleType) -> None:
    expected = {"TOTP-WINDOW": "does_not_conform (fail)"}
    found = driver.compare(_report(kind="feature_absent"), expected)
    [difference] = [d for d in found if d.id == "TOTP-WINDOW"]
    assert difference.got == "does_not_conform (feature_absent)"


def test_items_missing_on_either_side_are_differences(driver: ModuleType) -> None:
    found = driver.compare(_report(), {"STEP-1": "conforms", "STEP-9": "conforms"})
    assert [(d.id, d.expected, d.got) for d in found] == [
        ("STEP-9", "conforms", "missing"),
        ("ENFORCE-1", "missing", "does_not_conform (feature_absent)"),
        ("TOTP-WINDOW", "missing", "does_not_conform (fail)")]


def test_a_missing_profile_is_one_line_and_exit_2(driver: ModuleType, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other"
    other.mkdir()
    apps = (_app(driver, tmp_path, profile=False), driver.App("other", other, ("true",)))
    assert driver.main(["--app", "fake"], apps=apps) == 2
    assert capsys.readouterr().out.splitlines() == [
        f"set-up error: fake: no clinic2fa.toml in {tmp_path} (not set up yet)"]


def test_the_site_is_started_on_port_0_and_stopped_whatever_happens(
        driver: ModuleType, tmp_path: Path) -> None:
    app = _app(driver, tmp_path)
    with pytest.raises(RuntimeError), driver.running_site(app, timeout=30) as url:
        assert url == "http://localhost:4003"  # serve.py --port 0: three arguments
        pid = int((tmp_path / "pid").read_text())
        os.kill(pid, 0)  # running
        raise RuntimeError("the run broke")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_site_that_prints_no_address_is_a_setup_error(driver: ModuleType,
                                                        tmp_path: Path) -> None:
    app = driver.App("mute", tmp_path, (sys.executable, "-c", "print('migrating...')"))
    with pytest.raises(driver.SetupError, match=r"mute: .* printed no 'serving http://' line "
                       r"\(exit 0\): migrating\.\.\."), driver.running_site(app, timeout=30):
        pass


# -- guide items: the expected report verdict derived from the step and its requirements --------


def test_a_failing_requirement_fails_the_guide_item_it_serves(driver: ModuleType) -> None:
    fail = "does_not_conform (fail)"
    assert driver.derive("conforms", [("KEY-URI", "conforms"), ("TOTP-SECRET-SIZE", fail)]) \
        == (fail, "TOTP-SECRET-SIZE")
    assert driver.derive(fail, [("TOTP-SECRET-SIZE", fail)]) == (fail, None)  # the step's own
    absent = "does_not_conform (feature_absent)"
    assert driver.derive(absent, [("X", fail)]) == (fail, "X")  # a failure before an absence


def test_a_guide_item_stays_as_its_step_when_nothing_behind_it_fails(driver: ModuleType) -> None:
    assert driver.derive("conforms", [("B", "conforms")]) == ("conforms", None)
    absent = "does_not_conform (feature_absent)"
    assert driver.derive(absent, [("A", "not_verified")]) == (absent, None)
    # one that conforms among the parts is enough when nothing is left unseen
    assert driver.derive("not_verified", [("A", "not_verified")]) == ("not_verified", None)
    assert driver.derive(None, [("B", "conforms")]) == ("conforms", "B")
    assert driver.derive(None, []) == ("gap", None)


def test_a_requirement_not_verified_leaves_the_guide_item_partly_verified(
        driver: ModuleType) -> None:
    """Conforms claims only what was seen: a requirement whose checks could not run here
    leaves the guide item it serves not verified, whatever else passed (the report's rule)."""
    assert driver.derive("conforms", [("A", "not_verified"), ("B", "conforms")]) == \
        ("not_verified", "A")
    assert driver.derive("not_verified", [("B", "conforms")]) == ("not_verified", None)
    # ...unless it is not verified only because a feature is absent (the key's `absent`)
    assert driver.derive("conforms", [("A", "not_verified"), ("B", "conforms")],
                         frozenset({"A"})) == ("conforms", None)
    # a failure still comes first
    fail = "does_not_conform (fail)"
    assert driver.derive("conforms", [("A", "not_verified"), ("B", fail)]) == (fail, "B")


def test_the_key_s_guide_items_are_derived_through_the_spec(
        driver: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from clinic2fa.spec import load
    serving = [r.id for r in load().requirements_serving("STEP-2")]
    assert "TOTP-SECRET-SIZE" in serving
    (tmp_path / "expected.toml").write_text(textwrap.dedent("""
        [[item]]
        id = "STEP-2"
        step = "conforms"
        [[item]]
        id = "TOTP-SECRET-SIZE"
        verdict = "does_not_conform"
        kind = "fail"
        [[item]]
        id = "STEP-1"
        step = "conforms"
    """))
    expected = driver.expected_verdicts(tmp_path / "expected.toml")
    assert expected["STEP-2"] == driver.Expected("does_not_conform (fail)", "conforms",
                                                 "TOTP-SECRET-SIZE")
    assert expected["STEP-1"] == driver.Expected("conforms", "conforms", None)
    report = {"guide_items": [{"id": "STEP-2", "verdict": "conforms", "scenarios": []},
                              {"id": "STEP-1", "verdict": "conforms", "scenarios": []}],
              "requirements": [{"id": "TOTP-SECRET-SIZE", "verdict": "does_not_conform",
                                "verdict_kind": "fail", "scenarios": []}], "scenarios": []}
    [difference] = driver.compare(report, expected)
    assert difference.line("fake") == (
        "fake: STEP-2: expected does_not_conform (fail) [derived from TOTP-SECRET-SIZE; the "
        "step itself: conforms], got conforms -- no scenario verifies it")


def test_a_report_s_guide_item_kind_is_not_its_verdict_kind(driver: ModuleType) -> None:
    """A report's guide item says `kind = "step"` (what sort of item it is): only
    verdict_kind says why it does not conform."""
    report = {"guide_items": [{"id": "STEP-2", "kind": "step", "verdict": "does_not_conform",
                               "verdict_kind": "fail", "scenarios": []}],
              "requirements": [], "scenarios": []}
    assert driver.compare(report, {"STEP-2": "does_not_conform (fail)"}) == []
