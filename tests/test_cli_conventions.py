"""The command line's conventions: --version, `list [--json]`, -q/-v, colour only on a terminal
(NO_COLOR respected), n/N with the time left, --last-failed. No test waits: clocks are fakes."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import pytest
from runner_support import REPLAY, SIGN_IN, SKEW, ReplayingClinic, catalogue, memory_of, run_here

from clinic2fa.scenarios.running.console import Console, Eta, colour_wanted, seconds_left


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clinic2fa.scenarios.cli", *args],  # noqa: S603
                          capture_output=True, text=True, timeout=120, cwd=cwd, check=False)


def test_version_answers_the_installed_version() -> None:
    from importlib.metadata import version

    done = cli("--version")
    assert done.returncode == 0 and done.stdout == f"clinic2fa {version('clinic2fa')}\n"


def test_list_json_has_every_scenario_with_spec_ids_level_and_needs() -> None:
    from clinic2fa.scenarios import catalogue as catalogue_mod

    done = cli("list", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["id"] for r in rows] == list(catalogue_mod.load())
    replay = next(r for r in rows if r["id"] == "TOTP-REPLAY-TWO-SIGN-INS")
    assert replay["verifies"] == ["TOTP-REPLAY"] and replay["level"] == "MUST"
    assert "STEP-6" in replay["guide_items"] and replay["needs"] == []
    assert next(r for r in rows if r["id"] == "PASSKEY-CHALLENGE-EXPIRES")["needs"] == [
        "passkeys", "clock"]
    text = cli("list", "--select", "TOTP-REPLAY*")
    assert text.returncode == 0
    assert re.search(r"^TOTP-REPLAY-TWO-SIGN-INS +MUST +TOTP-REPLAY +-$", text.stdout, re.M)
    chosen = [r for r in rows if fnmatch(r["id"], "TOTP-REPLAY*")
              or any(fnmatch(v, "TOTP-REPLAY*") for v in r["verifies"])]
    assert any(r["id"].startswith("RACE-") for r in chosen)  # a race verifies it too
    assert text.stdout.rstrip().endswith(f"{len(chosen)} scenarios")


def test_the_time_left_comes_from_the_pace_so_far() -> None:
    now = [100.0]
    eta = Eta(10, clock=lambda: now[0])
    assert eta.left(0) is None and eta.says(0) == "[ 0/10]"
    now[0] = 104.0  # 2 done in 4 s: 8 to go at 2 s each
    assert eta.left(2) == pytest.approx(16.0)
    assert eta.says(2) == "[ 2/10] 16s left"
    assert eta.says(2, "examples") == "[ 2/10] examples, 16s left"
    now[0] = 200.0
    assert eta.says(10) == "[10/10]"  # done: no time left to show
    assert [seconds_left(s) for s in (0.2, 8, 125, 3780)] == ["under 1s", "8s", "2m05s", "1h03m"]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color() -> None:
    assert colour_wanted(Tty(), {}) is True
    assert colour_wanted(Tty(), {"NO_COLOR": ""}) is False  # any value, even empty
    assert colour_wanted(Tty(), {"TERM": "dumb"}) is False
    assert colour_wanted(io.StringIO(), {}) is False  # a file, a pipe, a CI log
    assert colour_wanted(io.StringIO(), {"FORCE_COLOR": "1"}) is True


def test_a_status_line_is_redrawn_on_a_terminal_and_absent_from_a_log() -> None:
    log, tty = io.StringIO(), Tty()
    for console in (Console(log, colour=False), Console(tty, colour=False)):
        console.status("[1/2] running X")
        console.say("[1/2] X PASS")
    assert log.getvalue() == "[1/2] X PASS\n"
    assert tty.getvalue() == "[1/2] running X\r\033[2K[1/2] X PASS\n"


def test_run_lines_have_n_of_n_and_time_left_and_no_colour_in_a_file(tmp_path: Path) -> None:
    done = run_here(tmp_path, catalogue(SIGN_IN, REPLAY, SKEW))
    lines = [ln for ln in done.out.splitlines() if ln.startswith("[")]
    assert [ln.split()[0] for ln in lines] == ["[1/3]", "[2/3]", "[3/3]"]
    assert lines[0].endswith(" left") and not lines[-1].endswith(" left")
    assert "\033[" not in done.out


def test_quiet_shows_only_what_did_not_pass_and_verbose_shows_the_rule(tmp_path: Path) -> None:
    broken = memory_of(ReplayingClinic)
    quiet = run_here(tmp_path / "q", catalogue(SIGN_IN, REPLAY), provider=broken, verbosity=-1)
    assert "T-REPLAY" in quiet.out and "T-SIGN-IN " not in quiet.out
    assert "DOES NOT CONFORM" in quiet.out
    loud = run_here(tmp_path / "v", catalogue(SIGN_IN, REPLAY),
                    provider=memory_of(ReplayingClinic), verbosity=1)
    assert f"rule: {REPLAY.quote}" in loud.out and "check:" in loud.out


def test_last_failed_reruns_only_the_previous_failures(tmp_path: Path) -> None:
    first = run_here(tmp_path, catalogue(SIGN_IN, REPLAY, SKEW),
                     provider=memory_of(ReplayingClinic))
    assert first.outcomes()["T-REPLAY"] == "fail"
    previous = tmp_path / "previous.json"
    previous.write_text((first.report_dir / "report.json").read_text())
    again = run_here(tmp_path, catalogue(SIGN_IN, REPLAY, SKEW), last_failed=previous)
    assert again.outcomes() == {"T-REPLAY": "pass"}  # fixed: the target is the reference now
    everything = run_here(tmp_path, catalogue(SIGN_IN, REPLAY, SKEW),
                          last_failed=again.report_dir)  # no failures left: run them all
    assert set(everything.outcomes()) == {"T-SIGN-IN", "T-REPLAY", "T-SKEW"}


def test_last_failed_of_something_that_is_not_a_report_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.json").write_text("[1, 2]")
    done = run_here(tmp_path, catalogue(SIGN_IN), last_failed=tmp_path / "notes.json")
    assert done.code == 2 and "is not a clinic2fa report.json" in done.err
