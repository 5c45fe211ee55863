"""`clinic2fa run` as a real process: one line and the right exit code, never a traceback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from clinic2fa.scenarios import catalogue


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clinic2fa.scenarios.running.command", *args],  # noqa: S603
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)


def test_a_bad_target_exits_2_with_one_line(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "--target", "telnet://clinic")
    assert done.returncode == 2
    assert done.stderr.startswith("clinic2fa: unknown target 'telnet://clinic'")
    assert done.stderr.count("\n") == 1 and done.stdout == ""


@pytest.mark.skipif(not catalogue.load(), reason="needs the scenario catalogue")
def test_a_target_that_is_down_exits_3_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = run_cli(tmp_path, "--target", f"http://127.0.0.1:{port}")
    assert done.returncode == 3
    assert done.stderr == f"clinic2fa: target http://127.0.0.1:{port} unreachable: " \
                          "connection refused\n"
    # the reports say so too, so a CI that reads junit.xml sees why nothing ran
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert report["exit_code"] == 3 and "connection refused" in report["aborted"]
    assert report["summary"]["run"] == 0 and report["headline"].startswith("NOT VERIFIED")
    suite = ET.parse(tmp_path / "reports" / "junit.xml").getroot()  # noqa: S314 - our own file
    cases = list(suite.iter("testcase"))
    assert len(cases) == 1 and suite.get("errors") == "1" and suite.get("tests") == "1"
    error = cases[0].find("error")
    assert error is not None and "connection refused" in error.get("message", "")
    assert cases[0].get("name") == "the run stopped before any scenario"
