"""The plugin as a user's project meets it: its own tests and the scenarios in one pytest run.

A separate project in a temporary folder, run in a child process exactly as the README says:
`pytest -p clinic2fa.scenarios.running.plugin --c2f-target memory`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = "clinic2fa.scenarios.running.plugin"
OWN_TESTS = '''
def test_adds():
    assert 1 + 1 == 2

def test_greets():
    assert "hello".title() == "Hello"

def test_subtracts():
    assert 3 - 1 == 1, "the project's own bug"
'''


def project(tmp_path: Path) -> Path:
    """A project of its own: a pyproject with pytest settings and a tests/ folder."""
    root = tmp_path / "their-project"
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    (root / "tests" / "test_own.py").write_text(OWN_TESTS)
    return root


def pytest_in(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "pytest", "-p", PLUGIN, "-p", "no:cacheprovider", *args],
        cwd=root, capture_output=True, text=True, timeout=300, check=False)


def test_a_failing_user_test_fails_the_run_beside_the_whole_suite(tmp_path: Path) -> None:
    root = project(tmp_path)
    done = pytest_in(root, "--c2f-target", "memory", "-rA")
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "PASSED tests/test_own.py::test_adds" in out
    assert "FAILED tests/test_own.py::test_subtracts" in out
    assert "the project's own bug" in out
    report = json.loads((root / "reports" / "report.json").read_text())
    assert report["user_tests"] == {"collected": 3, "failed": 1, "collection_errors": 0}
    assert report["summary"]["run"] == report["summary"]["scenarios"] > 50  # all of them ran
    assert report["summary"]["blocking"] == 0  # the reference conforms: the exit is the user's
    assert "TOTP-REPLAY-TWO-SIGN-INS" in out  # scenarios show among the user's results


def test_the_same_project_without_its_failure_exits_0(tmp_path: Path) -> None:
    root = project(tmp_path)
    done = pytest_in(root, "--c2f-target", "memory", "--c2f-select", "TOTP-REPLAY*",
                     "--deselect", "tests/test_own.py::test_subtracts")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("args", "code", "said"), [
    (("--c2f-target", "gopher://clinic"), 2, "clinic2fa: unknown target 'gopher://clinic'"),
    (("--c2f-target", "memory", "--c2f-select", "NO-SUCH-*"), 2, "matches no scenario"),
])
def test_usage_errors_exit_2_as_the_cli_does(tmp_path: Path, args: tuple[str, ...], code: int,
                                             said: str) -> None:
    done = pytest_in(project(tmp_path), *args)
    assert done.returncode == code, done.stdout + done.stderr
    assert said in done.stderr
