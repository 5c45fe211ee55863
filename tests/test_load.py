"""`clinic2fa load`: Locust against the reference gives 0 wrong verdicts; other hosts refused.

Locust itself runs in a child process, so this process never imports it (it patches the
standard library with gevent on import).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clinic2fa.scenarios.load.command import LoadOptions, check, locust_command, run
from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.policy import FAST_HASH, Policy
from clinic2fa.simulator.users import Role
from clinic2fa.simulator.web.app import create_app
from clinic2fa.simulator.web.server import running

STAFF = [(f"staff{n}@deploy.test", f"staff-{n}-Pa55-enamel") for n in (1, 2)]


def load(options: LoadOptions) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(options, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def reference() -> Iterator[str]:
    """As `clinic2fa serve` runs it, on the real clock; cheap hashing for a short test."""
    with running(create_app(Clinic(policy=Policy(hash_cost=FAST_HASH)),
                            test_support=True)) as url:
        yield url


def test_a_short_load_on_the_reference_has_no_wrong_verdict(reference: str,
                                                             tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    code, out, err = load(LoadOptions(reference, users=5, duration=3, json_out=figures))
    assert code == 0, out + err
    assert "0 wrong (none)" in out and "full sign-ins" in out and "p99" in out
    written = json.loads(figures.read_text())
    assert written["wrong_verdicts"] == 0 and written["errors"] == []
    assert written["flows"]["requests"] > 0 and written["verdicts_checked"] > 0
    names = {e["name"] for e in written["entries"]}
    assert {"second step: valid backup code", "second step: valid 6-digit code",
            "spent or wrong code refused"} <= names


def test_on_a_fake_clock_the_codes_follow_the_servers_clock(tmp_path: Path) -> None:
    """`clinic2fa serve --fake-clock`: its time stands still, so the load asks it each time."""
    clinic = Clinic(clock=FakeClock(time.time() - 3600), policy=Policy(hash_cost=FAST_HASH))
    with running(create_app(clinic, test_support=True)) as url:
        code, out, err = load(LoadOptions(url, users=2, duration=2))
    assert code == 0, out + err
    assert "0 wrong (none)" in out


def test_a_deployment_runs_on_its_staff_pool_and_is_left_as_found(tmp_path: Path) -> None:
    clinic = Clinic(policy=Policy(hash_cost=FAST_HASH))
    for email, password in STAFF:
        clinic.add_user(email, password, Role.STAFF)
    config = tmp_path / "deployment.toml"
    config.write_text("[clinic]\ntest_clinic = true\n" + "".join(
        f'[[staff]]\nemail = "{e}"\npassword = "{p}"\n' for e, p in STAFF), encoding="utf-8")
    with running(create_app(clinic, test_support=False)) as url:
        code, out, err = load(LoadOptions(url, users=5, duration=2, config=config))
        assert code == 2 and err.count("\n") == 1 and "need 3" in err and "has 2" in err
        code, out, err = load(LoadOptions(url, users=4, duration=2, config=config))
    assert code == 0, out + err
    assert "0 wrong (none)" in out
    for email, password in STAFF:  # each account's 2FA was turned off again at the end
        assert clinic.sign_in(email, password).stage.value == "signed_in"


@pytest.mark.parametrize("target", ["http://clinic.example:8000", "http://10.0.0.7:8000",
                                    "https://[2001:db8::1]/clinic"])
def test_other_hosts_are_refused_in_one_line(target: str, tmp_path: Path) -> None:
    named = tmp_path / "named.toml"
    named.write_text('[target]\nhosts = ["clinic.test.example"]\n', encoding="utf-8")
    for config in (None, named):
        code, out, err = load(LoadOptions(target, users=1, duration=1, config=config))
        assert (code, out) == (2, "")
        assert err.startswith("clinic2fa load: refusing to send") and err.count("\n") == 1


def test_the_command_line_refuses_too() -> None:
    done = subprocess.run([sys.executable, "-m", "clinic2fa.scenarios.cli", "load", "--target",
                           "http://clinic.example", "--users", "1", "--duration", "1"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "loopback" in done.stderr


def test_a_host_the_config_names_passes_the_check(tmp_path: Path) -> None:
    named = tmp_path / "named.toml"
    named.write_text('[target]\nhosts = ["clinic.test.example"]\n', encoding="utf-8")
    config = check(LoadOptions("https://clinic.test.example", users=1, duration=1,
                               config=named))
    assert config is not None and config.hosts == ("clinic.test.example",)


@pytest.mark.parametrize("hosts", ['"clinic.example"', '[""]', "[1]"])
def test_config_hosts_must_be_a_list_of_names(hosts: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(f"[target]\nhosts = {hosts}\n", encoding="utf-8")
    code, _, err = load(LoadOptions("http://127.0.0.1:1", users=1, duration=1, config=bad))
    assert code == 2 and "[target] hosts must be a list of host names" in err


def test_the_target_must_be_http() -> None:
    code, _, err = load(LoadOptions("memory", users=1, duration=1))
    assert code == 2 and err.startswith("clinic2fa load: --target must be http://")


@pytest.mark.parametrize(("users", "duration"), [(0, 5), (1001, 5), (5, 0), (5, 3601)])
def test_load_is_bounded(users: int, duration: int) -> None:
    code, _, err = load(LoadOptions("http://127.0.0.1:1", users=users, duration=duration))
    assert code == 2 and err.count("\n") == 1


def test_locust_runs_headless_and_stops_by_itself(tmp_path: Path) -> None:
    command = locust_command(LoadOptions("http://127.0.0.1:8000/", 50, 30), [],
                             tmp_path / "s.json")
    assert command[1:4] == ["-m", "locust", "-f"] and "Staff" in command
    for flag, value in (("--users", "50"), ("--c2f-duration", "30"),
                        ("--host", "http://127.0.0.1:8000")):
        assert command[command.index(flag) + 1] == value
    assert "--headless" in command and "--stop-timeout" in command
    # sign-ins last 30 s once all 50 have set up 2FA; Locust's own limit stops it regardless
    assert 30 < int(command[command.index("--run-time") + 1].rstrip("s")) <= 30 + 60 + 25


def test_virtual_staff_sharing_an_account_see_a_check_then_act_race(tmp_path: Path) -> None:
    """Against the no-locking defect, two staff to an account send each code together: the
    wrong verdicts are counted and the run exits 1 (ISSUE 16: the load tool was blind to it)."""
    from clinic2fa.scenarios.selfcheck.defects import NoLocking

    figures = tmp_path / "figures.json"
    with running(create_app(NoLocking(policy=Policy(hash_cost=FAST_HASH)),
                            test_support=True)) as url:
        code, out, err = load(LoadOptions(url, users=4, duration=4, share=2, json_out=figures))
    assert code == 1, out + err
    written = json.loads(figures.read_text())
    assert written["wrong_verdicts"] > 0, out
    assert "wrong (spent or wrong code accepted" in out
