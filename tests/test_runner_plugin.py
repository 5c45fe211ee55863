"""The same suite through pytest itself: `pytest -p clinic2fa.scenarios.running.plugin ...`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from runner_support import catalogue, failing

from clinic2fa.scenarios import catalogue as catalogue_mod
from clinic2fa.scenarios.core.model import Level


def pytest_here(tmp_path: Path, *args: str) -> int:
    """pytest.main in this process with the plugin, isolated from this project's ini file.

    Without autoloaded plugins: pytest-playwright cannot nest inside the outer session.
    """
    return int(pytest.main(["-c", os.devnull, "--rootdir", os.getcwd(), "-p", "no:cacheprovider",
                            "--disable-plugin-autoload", "--capture=no",
                            "-p", "clinic2fa.scenarios.running.plugin",
                            "--c2f-report-dir", str(tmp_path / "reports"), *args]))


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
def test_a_usage_error_in_plugin_mode_is_pytests_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = pytest_here(tmp_path, "--c2f-target", "gopher://x")
    assert status == pytest.ExitCode.USAGE_ERROR
    assert "clinic2fa: unknown target 'gopher://x'" in capsys.readouterr().err


def test_without_a_target_the_plugin_stays_out_of_the_way(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "test_plain.py").write_text("def test_one():\n    assert True\n")
    status = pytest_here(tmp_path, str(tmp_path / "test_plain.py"))
    capsys.readouterr()
    assert status == 0
    assert not (tmp_path / "reports").exists()
