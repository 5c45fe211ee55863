"""`clinic2fa run` exit codes: 0 conforms, 1 does not, 2 usage, 3 unreachable; run in-process."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from runner_support import (
    REPLAY,
    SIGN_IN,
    DroppingProvider,
    ReplayingClinic,
    catalogue,
    crashing,
    memory_of,
    run_here,
)

from clinic2fa.spec import load as load_spec


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_reference_conforms(tmp_path: Path) -> None:
    done = run_here(tmp_path)
    assert done.code == 0, done.out + done.err
    assert done.outcomes() == {"T-SIGN-IN": "pass", "T-REPLAY": "pass", "T-SKEW": "pass",
                               "T-CLOCK": "pass"}
    assert done.err == ""
    for scen in ("T-SIGN-IN", "T-REPLAY", "T-SKEW", "T-CLOCK"):
        line = next(x for x in done.out.splitlines() if f" {scen} " in x)
        # id, verdict, duration, then the time left (but on the last line)
        assert "PASS" in line and re.search(r" \d+\.\d{3}s(  .+ left)?$", line), line
    items = len(load_spec().guide_items) + len(load_spec().requirements)
    assert (f"CONFORMS on 8 of {items} spec items; {items - 8} with no scenario (gaps) (exit 0)"
            in done.out)
    assert done.report()["exit_code"] == 0 and done.report()["conforms"] is True


def test_a_target_that_accepts_a_replayed_code_does_not_conform(tmp_path: Path) -> None:
    done = run_here(tmp_path, provider=memory_of(ReplayingClinic))
    assert done.code == 1
    assert done.outcomes()["T-REPLAY"] == "fail"
    assert done.outcomes()["T-SIGN-IN"] == "pass"
    scen = next(s for s in done.report()["scenarios"] if s["id"] == "T-REPLAY")
    assert "but it was accepted" in scen["message"] and scen["blocking"]
    requirement = next(r for r in done.report()["requirements"] if r["id"] == "TOTP-REPLAY")
    assert requirement["verdict"] == "does_not_conform"
    assert "DOES NOT CONFORM" in done.out


def test_a_harness_crash_is_an_error_not_a_failure(tmp_path: Path) -> None:
    done = run_here(tmp_path, catalogue(SIGN_IN, crashing("T-CRASH", KeyError("stage"))))
    assert done.code == 1
    assert done.outcomes()["T-CRASH"] == "error"
    assert "KeyError" in next(s for s in done.report()["scenarios"]
                              if s["id"] == "T-CRASH")["detail"]


@pytest.mark.parametrize(("options", "expected"), [
    ({"target": "ftp://clinic.example"}, "unknown target 'ftp://clinic.example'"),
    ({"target": "memory:fast"}, "unknown target 'memory:fast'"),
    ({"target": "http://:80"}, "bad target URL"),
    ({"target": "http://localhost:port"}, "the port is not a number"),
    ({"config": Path("/nonexistent/c.toml")}, "config file /nonexistent/c.toml not found"),
    ({"select": ["NO-SUCH-*"]}, "--select NO-SUCH-* matches no scenario"),
])
def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path, options: dict[str, object],
                                              expected: str) -> None:
    done = run_here(tmp_path, **options)  # type: ignore[arg-type]
    assert done.code == 2
    assert done.err.startswith("clinic2fa: ") and expected in done.err
    assert done.err.count("\n") == 1 and "Traceback" not in done.err
    assert done.out == ""
    assert not (tmp_path / "reports" / "report.json").exists()


def test_bad_toml_in_the_config_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "target.toml"
    config.write_text("[clinic\ntest_clinic = true\n")
    done = run_here(tmp_path, config=config)
    assert done.code == 2
    assert f"config file {config}: invalid TOML" in done.err and done.err.count("\n") == 1


def test_an_empty_catalogue_is_a_usage_error(tmp_path: Path) -> None:
    assert run_here(tmp_path, {}).code == 2


def test_an_unreachable_target_is_one_line_and_exit_3(tmp_path: Path) -> None:
    port = closed_port()
    done = run_here(tmp_path, target=f"http://127.0.0.1:{port}")
    assert done.code == 3
    assert done.err == f"clinic2fa: target http://127.0.0.1:{port} unreachable: " \
                       "connection refused\n"
    assert done.out == ""


def test_a_target_that_drops_mid_run_stops_the_run_with_exit_3(tmp_path: Path) -> None:
    done = run_here(tmp_path, catalogue(SIGN_IN, REPLAY, crashing("T-LAST", KeyError("x"))),
                    provider=DroppingProvider(alive=1))
    assert done.code == 3
    report = done.report()
    assert [s["id"] for s in report["scenarios"]] == ["T-SIGN-IN", "T-REPLAY"]  # then stopped
    assert report["scenarios"][1]["outcome"] == "error"
    assert report["aborted"] == "target memory+drops unreachable: connection refused"
    assert report["summary"]["not_run"] == 1
    assert report["exit_code"] == 3
    assert done.out.count("unreachable") <= 3  # one progress line, the summary: no tracebacks
    assert "Traceback" not in done.out + done.err


def test_an_interrupted_run_still_leaves_a_whole_report(tmp_path: Path) -> None:
    done = run_here(tmp_path, catalogue(SIGN_IN, crashing("T-CTRL-C", KeyboardInterrupt()),
                                        REPLAY))
    assert done.code == 130
    report = done.report()
    assert report["aborted"] == "interrupted" and report["exit_code"] == 130
    assert [s["id"] for s in report["scenarios"]] == ["T-SIGN-IN"]
    assert "INTERRUPTED" in done.out
