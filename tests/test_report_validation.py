"""The check that holds every report the suite writes to its schema: seen failing on bad ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_validation import invalid, main, problems
from runner_support import catalogue, run_here

from clinic2fa.scenarios.reports import document


def test_a_real_report_is_valid_and_a_changed_one_is_not(tmp_path: Path) -> None:
    report = run_here(tmp_path).report()
    assert problems(report) == []
    report["scenarios"][0]["needs"] = ["teleport"]
    del report["summary"]
    found = problems(report)
    assert any("teleport" in line for line in found)
    assert any("summary" in line for line in found)


def test_the_folder_scan_names_each_bad_file(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    good = run_here(tmp_path / "good", catalogue()).report_dir
    bad = tmp_path / "bad" / "deep"
    bad.mkdir(parents=True)
    broken = bad / "report.json"
    broken.write_text(json.dumps({"schema_version": "1.1"}))
    try:
        seen, lines = invalid([tmp_path])
        assert seen == 2 and len(lines) == 1 and lines[0].startswith(str(broken))
        assert main([str(tmp_path)]) == 1
        assert main([str(good)]) == 0
        assert "1 report files checked" in capsys.readouterr().out
    finally:
        broken.unlink()  # else the session's own end-of-run scan fails on it, rightly


def test_a_report_breaking_its_schema_fails_the_test_that_writes_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(document, "SCHEMA_VERSION", "0.9")
    with pytest.raises(AssertionError, match="breaks its schema"):
        run_here(tmp_path, catalogue())
    assert not (tmp_path / "reports" / "report.json").exists()
