"""`clinic2fa explore`: seeded defects found and replayed, none on the reference, its exit codes."""

from __future__ import annotations

import importlib.util
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from clinic2fa.scenarios.cli import main
from clinic2fa.scenarios.explore.explorer import (
    CI_SEED,
    explore,
    open_target,
    replay,
    script,
    script_path,
)
from clinic2fa.scenarios.explore.pair import Divergence, Finding, diverges
from clinic2fa.scenarios.explore.sides import Action, Side
from clinic2fa.scenarios.selfcheck import defects
from clinic2fa.scenarios.targets.memory import MemoryTarget
from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.policy import FAST_HASH, Policy
from clinic2fa.simulator.web.app import create_app
from clinic2fa.simulator.web.server import listen, public_origin, running

ROOT = Path(__file__).resolve().parents[1]
# Five of the catalogue: a lock-out count a new sign-in resets and no lock-out at all (both seen
# only after several wrong codes across sign-ins), a pending sign-in that outlives the clock, old
# backup codes that survive a regeneration, a passkey challenge answered twice.
CHOSEN = ("rate-limit-reset-by-sign-in", "no-rate-limit", "pending-never-expires",
          "old-backup-codes-survive", "passkey-challenge-reusable")


def load(path: Path) -> ModuleType:
    """Import a replay script written by explore, as pytest would."""
    spec = importlib.util.spec_from_file_location(f"replay_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def without(finding: Finding, at: int) -> tuple:
    return finding.steps[:at] + finding.steps[at + 1:]


@pytest.mark.parametrize("name", CHOSEN)
def test_a_seeded_defect_is_found_and_its_replay_fails_only_on_that_defect(
        name: str, tmp_path: Path) -> None:
    target = f"memory+defect:{name}"
    finding = explore(target)
    assert finding is not None, f"explore missed {name} in the default examples"
    assert finding.target == target and finding.steps
    assert finding.reference != finding.observed
    # the last step is where they differ: every step before it answers alike
    replay(target, finding.steps[:-1])
    # and the sequence is short: no single step can go and still show a difference
    provider = open_target(target)
    try:
        assert all(diverges(provider, without(finding, at)) is None
                   for at in range(len(finding.steps)))
    finally:
        provider.close()

    path = script_path(tmp_path, target)
    path.write_text(script(finding, f"clinic2fa explore --target {target}"), encoding="utf-8")
    replayed = load(path)
    with pytest.raises(Divergence) as failed:
        replayed.test_target_answers_as_the_reference()
    assert failed.value.finding.steps == finding.steps  # at the same, last step
    assert failed.value.finding.observed == finding.observed
    replayed.TARGET = "memory"  # the same steps against the clean reference agree throughout
    replayed.test_target_answers_as_the_reference()


@pytest.mark.parametrize("name", ["password-sha256", "backup-codes-plain",
                                  "audit-log-leaks-codes"])
def test_what_a_clinic_keeps_is_compared_where_test_support_lays_it_open(name: str) -> None:
    """Storage defects answer every request as the reference does: only the records show them."""
    finding = explore(f"memory+defect:{name}")
    assert finding is not None
    records = finding.observed[-1]  # after the person's answer and Security page, alike
    assert records[0] == "records" and finding.reference[:-1] == finding.observed[:-1]
    assert finding.reference[-1] != records


def test_the_clean_reference_shows_no_divergence_in_the_default_examples() -> None:
    assert explore("memory") is None


# -- the command line ---------------------------------------------------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["explore", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_divergence_exits_1_with_a_replay_script_that_fails_under_pytest(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = "memory+defect:too-few-backup-codes"
    code, out, _ = run_cli(capsys, "--target", target, "--seed", str(CI_SEED),
                           "--report-dir", str(tmp_path))
    path = script_path(tmp_path, target)
    assert code == 1 and path.is_file()
    assert f"{target} differs from the reference at step " in out
    assert str(path) in out and "def test_target_answers_as_the_reference" in out
    ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",  # noqa: S603
                          str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "Divergence" in ran.stdout and "1 failed" in ran.stdout


def test_each_default_run_has_a_new_seed_it_prints_and_seed_replays_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = "memory+defect:regenerate-issues-too-few"
    said = [run_cli(capsys, "--target", target, "--examples", "30",
                    "--report-dir", str(tmp_path / str(n))) for n in range(2)]
    seeds = [re.search(r"--seed (\d+)", out).group(1) for _, out, _ in said]  # type: ignore[union-attr]
    assert seeds[0] != seeds[1] and all("a new seed: --seed replays" in o for _, o, _ in said)
    code, out, _ = run_cli(capsys, "--target", target, "--examples", "30", "--seed", seeds[0],
                           "--report-dir", str(tmp_path / "again"))
    assert code == said[0][0] and "a new seed" not in out
    finding = [o[o.index("differs from"):].split("\n\n")[0] for o in (said[0][1], out)
               if "differs from" in o]
    assert len(finding) in (0, 2) and len(set(finding)) <= 1  # the same run, found alike


# Not yet found at the default budget with CI's seed (census, 2026-12-01), though explore now
# tries them: other-users-code-accepted, old-secret-survives-re-enrolment.
@pytest.mark.parametrize("name", [
    "short-totp-secret", "manual-secret-ungrouped",  # the shape and size of secrets
    "backup-codes-low-entropy",  # and of backup codes
])
def test_what_explore_now_observes_finds_these(name: str) -> None:
    assert explore(f"memory+defect:{name}", seed_value=CI_SEED) is not None


def test_a_session_signed_out_of_is_observed_dead() -> None:
    side = Side(MemoryTarget(), True)
    side.do(Action("sign_in", "staff", "right"))
    assert side.do(Action("sign_out", "staff")) == (
        "ok", "the old session then: refused: not_signed_in")


def test_no_divergence_exits_0_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "--target", "memory", "--examples", "10",
                             "--seed", str(CI_SEED), "--report-dir", str(tmp_path))
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "no divergence from the reference in 10 examples"
    assert not list(tmp_path.iterdir())


def one_line(err: str) -> bool:
    return err.count("\n") == 1 and err.startswith("clinic2fa explore: ") and "Traceback" not in err


@pytest.mark.parametrize(("argv", "says"), [
    (("--target", "memory", "--examples", "0"), "--examples must be at least 1"),
    (("--target", "memory+defect:no-such-defect"), "unknown defect 'no-such-defect'"),
    (("--target", "nowhere://clinic"), "unknown target 'nowhere://clinic'"),
])
def test_usage_errors_exit_2_in_one_line(argv: tuple[str, ...], says: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, *argv, "--report-dir", str(tmp_path))
    assert code == 2 and one_line(err) and says in err, err
    assert not list(tmp_path.iterdir())


def test_an_unreachable_target_exits_3_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    code, _, err = run_cli(capsys, "--target", f"http://127.0.0.1:{port}",
                           "--report-dir", str(tmp_path))
    assert code == 3 and one_line(err) and "unreachable" in err, err


# -- over HTTP, against `clinic2fa serve` in-process --------------------------------------------


def serve(make: Callable[..., Clinic], test_support: bool = True) -> Iterator[str]:
    """The reference web app on a free port (TCP_NODELAY: no 40 ms wait for each ACK)."""
    sock = listen()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    origin, rp_id = public_origin("localhost", sock.getsockname()[1])
    clinic = make(clock=FakeClock(time.time()), policy=Policy(hash_cost=FAST_HASH),
                  origin=origin, rp_id=rp_id)
    with running(create_app(clinic, test_support=test_support), sock=sock) as url:
        yield url


def test_over_http_the_served_reference_agrees_and_a_served_defect_is_found() -> None:
    for url in serve(Clinic):  # `clinic2fa serve --fake-clock`
        assert explore(url, examples=20) is None
    for url in serve(lambda **kw: defects.build("totp-replay", **kw)):  # `serve --defect ...`
        finding = explore(url, examples=20)
        assert finding is not None and finding.target == url
        assert "already_used" in str(finding.reference)  # a replayed code, refused


def test_a_deployment_without_test_support_exits_2_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for url in serve(Clinic, test_support=False):
        code, _, err = run_cli(capsys, "--target", url, "--report-dir", str(tmp_path))
        assert code == 2 and one_line(err) and f"refusing to run against {url}" in err, err
