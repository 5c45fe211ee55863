"""`clinic2fa run` in a developer's environment: what is set for their own pytest stays theirs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from runner_support import run_here

from clinic2fa.scenarios import catalogue


def test_the_callers_pytest_addopts_neither_break_the_run_nor_go_away(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PYTEST_ADDOPTS=-v (for their pytest) names the terminal plugin's option, which the run
    blocks: read by the run's own pytest, it stopped the run with exit 4."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "-v")
    done = run_here(tmp_path, catalogue.load(), select=["TOTP-REPLAY-TWO-SIGN-INS"])
    assert done.code == 0, done.err
    assert os.environ["PYTEST_ADDOPTS"] == "-v"
