"""The mutation run's test command: the conformance suite on one mutant, stopping at a failure.

Run as `python mutation/oracle.py --target memory|http [--module NAME --source FILE]`: the module
NAME is imported from FILE (the mutant cosmic-ray made) instead of its own file, so mutants
never touch the working tree and several run side by side. Every scenario of the catalogue runs
on the target through the harness's own execute path (memory: the reference in-process; http:
the reference's web app served in this process, reached over the HTTP contract). Exit 0: every
scenario passed (the mutant survived); 1: one did not (killed; the first one is named); 2: the
mutant could not even be imported (incompetent).
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.util
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.machinery import ModuleSpec
from types import ModuleType

SURVIVED, KILLED, INCOMPETENT = 0, 1, 2
# Seconds one scenario may take: the slowest on the reference takes about 3 s on a quiet
# machine and 10 s on a loaded one; a mutant that makes one take longer hangs.
SCENARIO_LIMIT = 30.0


class _Mutant(importlib.abc.MetaPathFinder):
    """Finds one module at the mutant's file; every other import goes its usual way."""

    def __init__(self, name: str, source: str) -> None:
        self.name, self.source = name, source

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname != self.name:
            return None
        return importlib.util.spec_from_file_location(fullname, self.source)


def _order(scenarios: list) -> list:
    """Quick scenarios first, the races (20 requests each) last: most mutants die early."""
    return sorted(scenarios, key=lambda s: s.id.startswith("RACE-"))


@contextmanager
def _provider(target: str) -> Iterator[object]:
    from clinic2fa.scenarios.targets.memory import MemoryProvider

    if target == "memory":
        yield MemoryProvider()
        return
    from clinic2fa.scenarios.targets.http import HttpProvider
    from clinic2fa.simulator.clinic import Clinic
    from clinic2fa.simulator.clock import FakeClock
    from clinic2fa.simulator.policy import FAST_HASH, Policy
    from clinic2fa.simulator.web.app import create_app
    from clinic2fa.simulator.web.server import listen, public_origin, running

    sock = listen()
    origin, rp_id = public_origin("localhost", sock.getsockname()[1])
    clock = FakeClock(time.time())

    def fresh() -> Clinic:
        return Clinic(clock=clock, policy=Policy(hash_cost=FAST_HASH), origin=origin,
                      rp_id=rp_id)

    with running(create_app(fresh(), test_support=True, fresh_clinic=fresh), sock=sock) as url:
        provider = HttpProvider(url, None)
        provider.open()
        try:
            yield provider
        finally:
            provider.close()


def judge(target: str) -> tuple[int, str]:
    """Run the suite until a scenario does not pass: (exit code, what happened)."""
    from clinic2fa.scenarios import catalogue
    from clinic2fa.scenarios.core.verdicts import Outcome
    from clinic2fa.scenarios.running.execute import run_scenario

    scenarios = _order(list(catalogue.load().values()))
    with _provider(target) as provider:
        for scen in scenarios:
            watchdog = threading.Timer(SCENARIO_LIMIT, _hung, (scen.id,))
            watchdog.daemon = True
            watchdog.start()
            try:
                result = run_scenario(scen, provider)  # type: ignore[arg-type]
            finally:
                watchdog.cancel()
            if result.outcome is not Outcome.PASS:
                return KILLED, f"killed by {scen.id} ({result.outcome.value}): {result.message}"
    return SURVIVED, f"survived all {len(scenarios)} scenarios"


def _hung(scenario: str) -> None:
    """A scenario far slower than any on the reference: the mutant hangs; it is killed."""
    print(f"killed by {scenario}: no verdict within {SCENARIO_LIMIT:g} s (the mutant hangs)",
          flush=True)
    os._exit(KILLED)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mutation/oracle.py")
    parser.add_argument("--target", choices=("memory", "http"), default="memory")
    parser.add_argument("--module", help="the mutated module's name, e.g. "
                                         "clinic2fa.simulator.clinic")
    parser.add_argument("--source", help="the mutant's source file")
    args = parser.parse_args(argv)
    if args.module and args.source:
        sys.meta_path.insert(0, _Mutant(args.module, args.source))
        try:
            importlib.import_module(args.module)
        except Exception as exc:  # a mutant that breaks its own module's import
            print(f"incompetent: {type(exc).__name__}: {exc}")
            return INCOMPETENT
    code, said = judge(args.target)
    print(said)
    return code


if __name__ == "__main__":
    sys.exit(main())
