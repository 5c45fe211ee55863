"""The same suite through pytest itself: `pytest -p clinic2fa.scenarios.running.plugin ...`."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from runner_support import catalogue, failing

from clinic2fa.scenarios import catalogue as catalogue_mod
from clinic2fa.scenarios.core.model import Level


def pytest_here(tmp_path: Path, *args: str) -> int:
    """pytest.main in this process with the plugin, isolated from this project's ini file.

    The session is a project of its own in tmp_path (the scenarios join whatever tests it
    holds). Without autoloaded plugins: pytest-playwright cannot nest inside the outer session.
    """
    paths = [] if any(a.endswith(".py") for a in args) else [str(tmp_path)]
    return int(pytest.main(["-c", os.devnull, "--rootdir", str(tmp_path),
                            "-p", "no:cacheprovider",
                            "--disable-plugin-autoload", "--capture=no",
                            "-p", "clinic2fa.scenarios.running.plugin",
                            "--c2f-report-dir", str(tmp_path / "reports"), *args, *paths]))


@pytest.fixture
def tiny_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    scenarios = catalogue()
    scenarios["T-MUST-FAIL"] = failing("T-MUST-FAIL", Level.MUST, "replay accepted")
    monkeypatch.setattr(catalogue_mod, "load", lambda: scenarios)


@pytest.mark.usefixtures("tiny_catalogue")
def test_each_scenario_is_a_pytest_item_with_its_verdict(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = pytest_here(tmp_path, "--c2f-target", "memory", "-v")
    out = capsys.readouterr().out
    assert status == 1, out
    assert "sc_fixture::T-SIGN-IN PASS" in out
    assert "sc_other::T-SKEW PASS" in out
    assert "sc_fixture::T-MUST-FAIL FAIL" in out
    assert "replay accepted" in out  # the failure's message in pytest's failure section
    assert "clinic2fa" in out and "DOES NOT CONFORM" in out  # the terminal summary
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert report["summary"]["pass"] == 4 and report["summary"]["fail"] == 1


@pytest.mark.usefixtures("tiny_catalogue")
def test_plugin_options_select_and_k_both_narrow_the_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = pytest_here(tmp_path, "--c2f-target", "memory", "--c2f-select", "T-S*",
                         "-k", "not SKEW")
    capsys.readouterr()
    assert status == 0
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert [s["id"] for s in report["scenarios"]] == ["T-SIGN-IN"]


@pytest.mark.usefixtures("tiny_catalogue")
def test_a_usage_error_in_plugin_mode_exits_2_as_the_cli_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = pytest_here(tmp_path, "--c2f-target", "gopher://x")
    assert status == 2  # the CLI's usage error, not pytest's 4
    assert "clinic2fa: unknown target 'gopher://x'" in capsys.readouterr().err


@pytest.mark.usefixtures("tiny_catalogue")
def test_the_scenarios_join_the_users_own_tests(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "test_own.py").write_text(
        "def test_passes():\n    assert True\n\n"
        "def test_fails():\n    assert 1 == 2, 'the user broke it'\n")
    status = pytest_here(tmp_path, "--c2f-target", "memory", "--c2f-select", "T-S*", "-v",
                         str(tmp_path / "test_own.py"))
    out = capsys.readouterr().out
    assert "test_own.py::test_passes PASSED" in out
    assert "test_own.py::test_fails FAILED" in out and "the user broke it" in out
    assert "sc_fixture::T-SIGN-IN PASS" in out  # the scenarios ran too, after the user's tests
    assert status == 1, out  # every selected scenario passed: the user's failure fails the run
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert report["user_tests"] == {"collected": 2, "failed": 1, "collection_errors": 0}
    assert report["exit_code"] == 1 and report["summary"]["pass"] == 2


@pytest.mark.usefixtures("tiny_catalogue")
def test_passing_user_tests_and_scenarios_exit_0(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "test_mine.py").write_text("def test_passes():\n    assert True\n")
    status = pytest_here(tmp_path, "--c2f-target", "memory", "--c2f-select", "T-S*",
                         str(tmp_path / "test_mine.py"))  # not test_own: one module per name
    capsys.readouterr()
    assert status == 0
    assert json.loads((tmp_path / "reports" / "report.json").read_text())["exit_code"] == 0


def test_without_a_target_the_plugin_stays_out_of_the_way(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "test_plain.py").write_text("def test_one():\n    assert True\n")
    status = pytest_here(tmp_path, str(tmp_path / "test_plain.py"))
    capsys.readouterr()
    assert status == 0
    assert not (tmp_path / "reports").exists()


def test_an_unreachable_target_leaves_reports_saying_why_and_exits_3(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    status = pytest_here(tmp_path, "--c2f-target", f"http://127.0.0.1:{port}")
    assert status == 3
    assert "unreachable" in capsys.readouterr().err
    suite = ET.parse(tmp_path / "reports" / "junit.xml").getroot()  # noqa: S314 - our own file
    [case] = list(suite.iter("testcase"))
    assert case.find("error") is not None and suite.get("errors") == "1"
