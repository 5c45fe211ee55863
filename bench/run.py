"""Print the harness's figures: suite wall time per target, what 2FA costs the server, memory.

    .venv/bin/python bench/run.py              # the full run (about 4 minutes)
    .venv/bin/python bench/run.py --quick      # a smoke run: 1 repeat, 10 users for 5 s

Figures, not a test: nothing here passes or fails, except a run that broke.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from measure import CLINIC2FA, machine, run_child, serving

from clinic2fa.scenarios.load.command import LoadOptions
from clinic2fa.scenarios.load.command import run as run_load
from clinic2fa.scenarios.targets import factory
from clinic2fa.simulator.hashing import Hasher
from clinic2fa.simulator.policy import Policy

GUIDE = ["STEP-?-*", "OUTCOME-?-*", "TROUBLE-?-*"]  # the guide's own items (issue 17's scope)


def suite(target: str, repeats: int, *extra: str) -> dict[str, Any]:
    """`clinic2fa run` against one target: median wall time, peak RSS, exit codes, and the
    machine's load average (1 min) before and after: other work on it shows there."""
    runs, loads = [], [os.getloadavg()[0]]
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as reports:
            runs.append(run_child([CLINIC2FA, "run", "--target", target,
                                   "--report-dir", reports, *extra]))
        loads.append(os.getloadavg()[0])
    return {"seconds": statistics.median(r.seconds for r in runs),
            "peak_rss_mib": max(r.peak_rss_kib for r in runs) / 1024,
            "exit_codes": sorted({r.exit_code for r in runs}),
            "load": f"{min(loads):.1f}-{max(loads):.1f}"}


# The table, in one run: (figure, target kind, extra arguments). Every wall time is
# shown beside the memory run's (default -j) as a ratio.
SUITES = [
    ("memory", "memory", []),
    ("memory -j 1", "memory", ["-j", "1"]),
    ("memory, start-up (--select one scenario)", "memory", ["--select", "STEP-1-*"]),
    ("http (serve --fake-clock)", "http", []),
    ("http -j 1", "http", ["-j", "1"]),
    ("browser+http, the guide's items", "browser", ["--select", *GUIDE]),
    ("browser+http, whole catalogue", "browser", []),
]


def suites(repeats: int, browser: bool = True) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with serving("--fake-clock") as server:
        where = {"memory": "memory", "http": server.url,
                 "browser": f"browser+http://{server.url.split('://')[1]}"}
        for name, kind, extra in SUITES:
            if kind == "browser" and (not browser or "browser+http" not in factory.schemes()):
                results[name] = None
                continue
            results[name] = suite(where[kind], repeats, *extra)
        results["http server peak_rss_mib"] = server.peak_rss_kib() / 1024
    return results


def load(users: int, duration: int) -> dict[str, Any]:
    """/healthz, then full sign-ins, at the same users on the same server, one after the other."""
    out: dict[str, Any] = {}
    with serving() as server:
        for endpoint in ("healthz", "sign-in"):
            with tempfile.TemporaryDirectory() as tmp:
                figures = Path(tmp) / "figures.json"
                printed = io.StringIO()
                code = run_load(LoadOptions(server.url, users, duration, endpoint=endpoint,
                                            json_out=figures), out=printed, err=printed)
                if not figures.exists():
                    raise RuntimeError(f"load {endpoint} failed: {printed.getvalue().strip()}")
                out[endpoint] = {**json.loads(figures.read_text()), "exit_code": code}
        out["server peak_rss_mib"] = server.peak_rss_kib() / 1024
    return out


def hashing() -> dict[str, Any]:
    cost = Policy().hash_cost
    hasher = Hasher(cost)
    stored = hasher.hash("correct horse battery staple")

    def ms(action: Any) -> float:
        started = time.perf_counter()
        action()
        return (time.perf_counter() - started) * 1000

    return {"params": f"argon2id t={cost.time_cost}, m={cost.memory_cost} KiB "
                      f"({cost.memory_cost / 1024:.0f} MiB), p={cost.parallelism}",
            "hash_ms": statistics.median(ms(lambda: hasher.hash("x")) for _ in range(5)),
            "verify_ms": statistics.median(ms(lambda: hasher.verify(stored, "x"))
                                           for _ in range(5))}


def startup(times: int) -> float:
    seconds = []
    for _ in range(times):
        with serving() as server:
            seconds.append(server.startup_seconds)
    return statistics.median(seconds)


def table(results: dict[str, Any], users: int, duration: int, repeats: int) -> str:
    rows = [("machine", ", ".join(f"{k} {v}" for k, v in results["machine"].items()))]
    memory = results["suites"]["memory"]["seconds"]
    for name, _, _ in SUITES:
        got = results["suites"][name]
        rows.append((f"`run --target {name}` (median of {repeats})",
                     "skipped (--no-browser, or no browser+http target)" if got is None else
                     f"{got['seconds']:.1f} s = {got['seconds'] / memory:.1f}x memory (exit "
                     f"{got['exit_codes']}, peak RSS {got['peak_rss_mib']:.0f} MiB; load "
                     f"{got['load']})"))
    rows.append(("reference server peak RSS after the suites",
                 f"{results['suites']['http server peak_rss_mib']:.0f} MiB"))
    if "make test" in results:
        got = results["make test"]
        rows.append(("`make test` (pytest -n auto)",
                     f"{got['seconds']:.0f} s (exit {got['exit_codes']}; load {got['load']})"))
    if "load" in results:
        for endpoint, what in (("healthz", "GET /healthz"), ("sign-in", "full sign-in")):
            f = results["load"][endpoint]
            flows = f["flows"]
            verdicts = (f"{f['verdicts_checked']} verdicts, {f['wrong_verdicts']} wrong; "
                        if endpoint == "sign-in" else "")
            rows.append((f"{what}, {users} users for {duration} s",
                         f"{flows['per_second']:.1f}/s, p50 {flows['p50']} ms, p95 "
                         f"{flows['p95']} ms, p99 {flows['p99']} ms; {verdicts}"
                         f"{len(f['errors'])} errors"))
        sign_in, trivial = results["load"]["sign-in"]["flows"], results["load"]["healthz"]["flows"]
        if sign_in["per_second"]:
            rows.append(("what 2FA costs: /healthz throughput / sign-in throughput",
                         f"{trivial['per_second'] / sign_in['per_second']:.0f}x"))
        rows.append(("reference server peak RSS under the load",
                     f"{results['load']['server peak_rss_mib']:.0f} MiB"))
    h = results["hashing"]
    rows.append(("password and backup-code hashing (the server's)",
                 f"{h['params']}: hash {h['hash_ms']:.1f} ms, verify {h['verify_ms']:.1f} ms"))
    rows.append(("`clinic2fa serve` start-up to first answer (median of 5)",
                 f"{results['startup_seconds'] * 1000:.0f} ms"))
    lines = ["| figure | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 repeat, 10 users for 5 s")
    parser.add_argument("--no-load", action="store_true", help="skip the Locust runs")
    parser.add_argument("--no-browser", action="store_true", help="skip the browser suites")
    parser.add_argument("--make-test", action="store_true",
                        help="time `make test` too (the project's own tests, minutes)")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args()
    repeats, users, duration = (1, 10, 5) if args.quick else (3, 50, 30)
    results: dict[str, Any] = {"machine": machine()}
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    say(f"suites on memory, http and browser+http, {repeats} each ...")
    results["suites"] = suites(repeats, browser=not args.no_browser)
    if args.make_test:
        say("make test ...")
        before = os.getloadavg()[0]
        done = run_child(["make", "test"])
        results["make test"] = {"seconds": done.seconds, "exit_codes": [done.exit_code],
                                "load": f"{before:.1f}-{os.getloadavg()[0]:.1f}"}
    if not args.no_load:
        say(f"load: /healthz then full sign-ins, {users} users for {duration} s each ...")
        results["load"] = load(users, duration)
    results["hashing"] = hashing()
    say("start-up, 5 times ...")
    results["startup_seconds"] = startup(5)
    print(table(results, users, duration, repeats))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
