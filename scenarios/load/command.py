"""`clinic2fa load`: a bounded, self-stopping Locust run of full sign-ins, and its figures.

Locust runs headless in a child process (importing it patches the standard library with
gevent), on scenarios/load/locustfile.py; this module checks the target first, hands Locust the
clock estimate and the accounts, and reads back the figures Locust computed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from clinic2fa.scenarios.contract import Unreachable
from clinic2fa.scenarios.core import params
from clinic2fa.scenarios.core.model import Needs
from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.running.console import Console, seconds_left
from clinic2fa.scenarios.targets import config as config_mod
from clinic2fa.scenarios.targets.http import provider as http_provider
from clinic2fa.scenarios.targets.traffic import may_flood, refusal

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
EXTRA = "pip install 'clinic2fa[load]'"  # Locust comes with an extra
MAX_USERS = 1000
MAX_DURATION = 3600  # seconds
STOP_TIMEOUT = 10  # seconds Locust lets a sign-in in progress finish
GRACE = 120  # seconds on top of Locust's run time before the child is killed
SETUP_SECONDS = 60.0  # run time allowed for virtual staff to set up 2FA first...
SETUP_PER_USER = 0.5  # ...plus this per user (about 12 argon2 hashes each on the reference)
ENDPOINTS = {"sign-in": "Staff", "healthz": "Healthz"}  # --endpoint -> Locust user class
SHARE = 2  # virtual staff per account by default: every code sent twice at once
# The losers of each race are refused codes: more than this at once would lock the account
# (TOTP-RATE-LIMIT counts them), and a lock-out would then refuse the next round's valid code.
MAX_SHARE = max(1, params.MAX_FAILURES - 1)


@dataclass(frozen=True)
class LoadOptions:
    """What `clinic2fa load` was asked for."""

    target: str
    users: int
    duration: int
    config: Path | None = None
    spawn_rate: float | None = None  # users started per second (default: all in ~1 s)
    endpoint: str = "sign-in"
    json_out: Path | None = None
    share: int = SHARE  # virtual staff signing in to one account at once

    @property
    def accounts(self) -> int:
        """Accounts the virtual staff need: one per `share` of them."""
        return math.ceil(self.users / self.share)


def check(options: LoadOptions) -> config_mod.TargetConfig | None:
    """Everything that can be wrong before any request: bounds, the config, the host."""
    if not 1 <= options.users <= MAX_USERS:
        raise UsageError(f"--users must be 1 to {MAX_USERS}")
    if not 1 <= options.duration <= MAX_DURATION:
        raise UsageError(f"--duration must be 1 to {MAX_DURATION} seconds")
    if options.spawn_rate is not None and options.spawn_rate <= 0:
        raise UsageError("--spawn-rate must be positive")
    if not 1 <= options.share <= MAX_SHARE:
        raise UsageError(f"--share must be 1 to {MAX_SHARE}: more sign-ins of one account at "
                         f"once would lock it ({params.MAX_FAILURES} wrong codes lock it out)")
    if options.endpoint not in ENDPOINTS:
        raise UsageError(f"--endpoint must be one of {', '.join(ENDPOINTS)}")
    if not options.target.lower().startswith(("http://", "https://")):
        raise UsageError(f"--target must be http://HOST:PORT or https://HOST, not "
                         f"{options.target!r}")
    config = config_mod.load(options.config) if options.config else None
    if not may_flood(options.target, config):
        raise UsageError(refusal(options.target))
    if importlib.util.find_spec("locust") is None:
        raise UsageError(f"Locust is not installed: {EXTRA}")
    return config


def locust_command(options: LoadOptions, extra: list[str], summary: Path) -> list[str]:
    """Locust headless: N users, a run time, then stop; our options after its own."""
    rate = options.spawn_rate or float(options.users)
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), ENDPOINTS[options.endpoint],
            "--headless", "--users", str(options.users), "--spawn-rate", str(rate),
            "--run-time", f"{run_time(options)}s", "--c2f-duration", str(options.duration),
            "--stop-timeout", str(STOP_TIMEOUT), "--host", options.target.rstrip("/"),
            "--c2f-share", str(options.share),
            "--only-summary", "--loglevel", "WARNING", "--c2f-summary", str(summary), *extra]


def run_time(options: LoadOptions) -> int:
    """Locust's upper bound: the sign-ins' duration starts once every user has set up."""
    if options.endpoint != "sign-in":
        return options.duration
    return int(options.duration + SETUP_SECONDS + SETUP_PER_USER * options.users)


def prepare(options: LoadOptions, config: config_mod.TargetConfig | None) -> list[str]:
    """Open the target as the suite does (reachable, a test clinic, its clock measured)."""
    provider = http_provider(options.target, config)
    try:
        provider.open()
        reference = provider.reference
        fake_clock = Needs.CLOCK in provider.capabilities
        clock = provider.clock()
    finally:
        provider.close()
    if not reference and options.endpoint == "sign-in":
        staff = len(config.staff) if config else 0
        if staff < options.accounts:
            raise UsageError(f"{options.users} virtual staff, {options.share} to an account, "
                             f"need {options.accounts} [[staff]] accounts in the config; it has "
                             f"{staff}")
    extra = ["--c2f-accounts", "support" if reference else "config",
             "--c2f-clock", "support" if fake_clock else "local"]
    if clock is not None:
        extra += ["--c2f-offset", f"{clock.offset_seconds:.3f}",
                  "--c2f-uncertainty", f"{clock.uncertainty_seconds + 0.5:.3f}"]
    if options.config:
        extra += ["--c2f-config", str(options.config)]
    return extra


def wait_for(command: list[str], planned: int, say: Callable[[str], None],
             every: float = 5.0) -> subprocess.CompletedProcess[str]:
    """Run Locust, saying every `every` seconds how far along the planned run time it is.

    No sleep: the wait is Popen.communicate's own timeout. Past the grace period it is killed.
    """
    limit = planned + GRACE
    started = time.monotonic()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,  # noqa: S603
                          text=True) as proc:
        while True:
            try:
                stdout, stderr = proc.communicate(timeout=every)
                break
            except subprocess.TimeoutExpired:
                elapsed = time.monotonic() - started
                if elapsed > limit:
                    proc.kill()
                    proc.communicate()
                    raise RuntimeError(f"Locust did not stop within {limit} s; "
                                       "it was killed") from None
                left = max(0.0, planned - elapsed)
                say(f"[{min(int(elapsed), planned)}/{planned} s] load running, "
                    f"{seconds_left(left)} left" if left else
                    f"[{planned}/{planned} s] load done, Locust is writing its figures")
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


def run_locust(options: LoadOptions, extra: list[str],
               say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run Locust to its end (or kill it past the grace period); the summary it wrote."""
    with tempfile.TemporaryDirectory(prefix="clinic2fa-load-") as tmp:
        summary = Path(tmp) / "summary.json"
        command = locust_command(options, extra, summary)
        done = wait_for(command, run_time(options), say or (lambda _: None))
        if done.returncode == 2 or not summary.exists():
            lines = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
            why = next((ln for ln in lines if "clinic2fa:" in ln), lines[-1] if lines else "")
            raise RuntimeError(f"Locust failed (exit {done.returncode}): {why.strip()}")
        return dict(json.loads(summary.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Figures:
    """The headline numbers of a run, from Locust's own statistics."""

    flows: dict[str, Any]  # full sign-ins (or the healthz requests)
    http: dict[str, Any]  # every HTTP request together
    checked: int  # answers to codes that were judged
    wrong: dict[str, int]  # wrong verdicts by kind
    uncertain: int
    errors: list[str]
    summary: dict[str, Any]

    @property
    def wrong_verdicts(self) -> int:
        return sum(self.wrong.values())

    @property
    def ok(self) -> bool:
        return self.wrong_verdicts == 0 and not self.errors and self.flows["requests"] > 0

    def to_dict(self) -> dict[str, Any]:
        return {"flows": self.flows, "http": self.http, "verdicts_checked": self.checked,
                "wrong_verdicts": self.wrong_verdicts, "wrong_by_kind": self.wrong,
                "uncertain": self.uncertain, "errors": self.errors,
                "entries": self.summary["entries"]}


def figures(summary: dict[str, Any], endpoint: str) -> Figures:
    entries = summary["entries"]
    by = {(e["type"], e["name"]): e for e in entries}
    flows = by.get(("FLOW", "full sign-in")) if endpoint == "sign-in" else by.get(
        ("GET", "healthz"))
    verdicts = [e for e in entries if e["type"] == "VERDICT"]
    wrong = {e["name"]: e["failures"] for e in verdicts if e["failures"]}
    uncertain = sum(e["requests"] for e in verdicts if e["name"].startswith("uncertain"))
    errors = [f"{e['type']} {e['name']}: {e['error']} (x{e['occurrences']})"
              for e in summary["errors"] if e["type"] != "VERDICT"]
    errors += [f"exception: {e['message']} (x{e['count']})" for e in summary["exceptions"]]
    empty = {"requests": 0, "failures": 0, "per_second": 0.0, "p50": 0, "p95": 0, "p99": 0}
    return Figures(flows or empty, by[("HTTP", "HTTP requests after setup")],
                   sum(e["requests"] for e in verdicts), wrong, uncertain, errors, summary)


def report(options: LoadOptions, result: Figures, out: TextIO) -> None:
    what = "full sign-ins" if options.endpoint == "sign-in" else "GET /healthz"
    f, h = result.flows, result.http
    print(f"clinic2fa load: {options.users} users ({options.share} to an account, "
          f"{options.accounts} accounts) for {options.duration} s against {options.target}",
          file=out)
    print(f"  {what:<14} {f['requests']:>7}  {f['per_second']:>8.1f}/s  p50 {f['p50']} ms  "
          f"p95 {f['p95']} ms  p99 {f['p99']} ms", file=out)
    print(f"  {'HTTP requests':<14} {h['requests']:>7}  {h['per_second']:>8.1f}/s  p50 "
          f"{h['p50']} ms  p95 {h['p95']} ms  p99 {h['p99']} ms", file=out)
    if options.endpoint == "sign-in":
        kinds = ", ".join(f"{k}: {n}" for k, n in result.wrong.items()) or "none"
        print(f"  verdicts       {result.checked:>7} judged, {result.wrong_verdicts} wrong "
              f"({kinds}), {result.uncertain} uncertain", file=out)
    print(f"  errors         {len(result.errors):>7}", file=out)
    for line in result.errors[:10]:
        print(f"    {line}", file=out)


def run(options: LoadOptions, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """0: no wrong verdict and no error; 1: some; 2: usage; 3: target unreachable."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        config = check(options)
        extra = prepare(options, config)
        result = figures(run_locust(options, extra, Console(err).say), options.endpoint)
    except UsageError as exc:
        print(f"clinic2fa load: {exc}", file=err)
        return 2
    except Unreachable as exc:
        print(f"clinic2fa load: {exc}", file=err)
        return 3
    except RuntimeError as exc:
        print(f"clinic2fa load: {exc}", file=err)
        return 1
    report(options, result, out)
    if options.json_out:
        options.json_out.write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")
    return 0 if result.ok else 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", required=True, metavar="URL",
                        help="http://HOST:PORT: loopback, or a host the config names under "
                             "[target] hosts")
    parser.add_argument("--users", type=int, required=True, metavar="N",
                        help=f"virtual staff signing in at once (1-{MAX_USERS})")
    parser.add_argument("--duration", type=int, required=True, metavar="S",
                        help=f"seconds of load, then it stops (1-{MAX_DURATION})")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="target config (TOML): [[staff]] accounts for a deployment "
                             "(one per user), [target] hosts")
    parser.add_argument("--spawn-rate", type=float, metavar="R",
                        help="users started per second (default: all in about a second)")
    parser.add_argument("--endpoint", choices=list(ENDPOINTS), default="sign-in",
                        help="sign-in (default), or healthz: the same load on GET /healthz")
    parser.add_argument("--json", type=Path, dest="json_out", metavar="FILE",
                        help="also write the figures here (JSON)")
    parser.add_argument("--share", type=int, default=SHARE, metavar="K",
                        help=f"virtual staff per account, signing in at once and sending each "
                             f"code together, so a race shows (1-{MAX_SHARE}; default {SHARE})")


def load_command(args: argparse.Namespace) -> int:
    """Entry point for `clinic2fa load`."""
    return run(LoadOptions(args.target, args.users, args.duration, args.config,
                           args.spawn_rate, args.endpoint, args.json_out, args.share))
