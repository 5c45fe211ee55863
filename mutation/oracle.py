"""The mutation run's test command: the conformance suite on one mutant, stopping at a failure.

Run as `python mutation/oracle.py --target memory|http [--module NAME --source FILE]`: the module
NAME is imported from FILE (the mutant cosmic-ray made) instead of its own file, so mutants
never touch the working tree and several run side by side. Every scenario of the catalogue (or
those `--scenarios` names) runs on the target through the harness's own execute path (memory:
the reference in-process; http: the reference's web app served in this process, reached over the
HTTP contract). Exit 0: every scenario passed or decided nothing (the mutant survived); 1: one
failed or crashed (killed; the first one is named); 2: the mutant could not even be imported
(incompetent).

`--trace FILE` runs the unmutated suite and writes which lines of the mutated modules each
scenario runs (and which run before any scenario: imports, the server's start): a mutant needs
only the scenarios that run its line, and one on a line no scenario runs survives unjudged.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.util
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

SURVIVED, KILLED, INCOMPETENT = 0, 1, 2
# Seconds one scenario may take by default (--limit): the slowest on memory takes about 3 s on a
# quiet machine and 10 s on a loaded one; a mutant that makes one take longer hangs. The run
# (mutation/run.py) sets it from each scenario's time on the unmutated reference.
SCENARIO_LIMIT = 30.0
ROOT = Path(__file__).resolve().parents[1]
SETUP = "(setup)"  # the lines run before the first scenario: every scenario depends on them


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


def _copied(value: Any) -> Any:
    """Equal text, never the same object (as a request's text is after the wire)."""
    if isinstance(value, str) and len(value) > 1:
        return "".join(list(value))
    if isinstance(value, list | tuple):
        return type(value)(_copied(v) for v in value)
    return value


def _wire_target() -> object:
    """The memory target, every text it is handed a copy: in one process the caller would
    hand back the very str object the clinic issued (a session token, a code), so a mutant
    comparing by identity (`is` for `==`) would pass in memory and fail over HTTP."""
    from clinic2fa.scenarios.targets.memory import MemoryTarget

    class Wired(MemoryTarget):
        def __getattribute__(self, name: str) -> Any:
            found = super().__getattribute__(name)
            if name.startswith("_") or not callable(found) or isinstance(found, type):
                return found

            def call(*args: Any, **kwargs: Any) -> Any:
                return found(*map(_copied, args), **{k: _copied(v) for k, v in kwargs.items()})

            return call

    return Wired()


@contextmanager
def _provider(target: str) -> Iterator[object]:
    from clinic2fa.scenarios.targets.memory import MemoryProvider

    if target == "memory":
        yield MemoryProvider(make=_wire_target)  # type: ignore[arg-type]
        return
    from clinic2fa.scenarios.targets.config import TargetConfig
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

    log = Path(tempfile.gettempdir()) / f"clinic2fa-mutant-server-{os.getpid()}.log"
    try:
        with running(create_app(fresh(), test_support=True, fresh_clinic=fresh), sock=sock,
                     log_file=log, timeout=120.0) as url:  # its tracebacks to the log;
            # a loaded machine (and the trace) may take long to start the server
            # a minute per request: 20 parallel setups on a loaded machine, traced, are slow
            provider = HttpProvider(url, TargetConfig(timeout=60.0))
            provider.open()
            try:
                yield provider
            finally:
                provider.close()
    finally:
        log.unlink(missing_ok=True)


class Lines:
    """Which lines of `files` each scenario runs (sys.settrace, every thread: the server's too)."""

    def __init__(self, files: Sequence[str]) -> None:
        self.files = {str(ROOT / f): f for f in files}
        self.seen: dict[str, set[tuple[str, int]]] = {SETUP: set()}
        self.now = self.seen[SETUP]
        self.seconds: dict[str, float] = {}  # each scenario's time (traced: slower than not)

    def scenario(self, scenario_id: str) -> None:
        self.now = self.seen.setdefault(scenario_id, set())

    def _call(self, frame: FrameType, event: str, arg: Any) -> Any:
        name = self.files.get(frame.f_code.co_filename)
        if name is None:
            return None
        self.now.add((name, frame.f_lineno))

        def line(frame: FrameType, event: str, arg: Any) -> Any:
            if event == "line":
                self.now.add((name, frame.f_lineno))
            return line

        return line

    def start(self) -> None:
        threading.settrace(self._call)
        sys.settrace(self._call)

    def write(self, path: Path) -> None:
        data = {"lines": {sid: sorted([f, n] for f, n in lines)
                          for sid, lines in self.seen.items()},
                "seconds": {sid: round(t, 3) for sid, t in self.seconds.items()}}
        path.write_text(json.dumps(data), encoding="utf-8")


class Interleave:
    """Memory only: every line of the reference a race's thread runs is a point where another
    thread may take over, so a check-then-act left unguarded (a mutant without `@_locked`)
    interleaves as it does on a server with many cores. Without it the GIL runs a few lines
    of pure Python at a stretch (it switches threads only at calls and loops), the races'
    requests overlap, yet no check is ever split from its act, and the mutant survives.
    A guarded section stays whole: the others wait at its lock, whatever switches."""

    RACE_THREADS = "race"  # scenarios/core/parallel.py's burst threads (thread_name_prefix)
    # the methods of simulator/clinic.py's Clinic and of the relying party it keeps its passkeys'
    # counts in (simulator/passkeys.py), by code.co_qualname
    YIELD_IN = ("Clinic.", "Passkeys.")

    def __init__(self, *files: str) -> None:
        self.roots = (str(ROOT / "simulator"), *files)

    def _call(self, frame: FrameType, event: str, arg: Any) -> Any:
        if not threading.current_thread().name.startswith(self.RACE_THREADS):
            sys.settrace(None)  # not a burst's thread: never traced again
            return None
        if not frame.f_code.co_filename.startswith(self.roots):
            return None
        return self._line

    def _line(self, frame: FrameType, event: str, arg: Any) -> Any:
        # every traced line is a switch point (the tracer is a call); in the clinic's methods,
        # where its check-then-acts are, the GIL is let go outright. Not in the rest (the QR
        # code's loops): 20 threads doing so there made a setup burst take 25 s, not 1 s.
        if event == "line" and frame.f_code.co_qualname.startswith(self.YIELD_IN):
            time.sleep(0)  # let the GIL go: another burst thread may run now
        return self._line

    def start(self) -> None:
        threading.settrace(self._call)


def judge(target: str, only: set[str] | None = None, lines: Lines | None = None,
          limit: float = SCENARIO_LIMIT) -> tuple[int, str]:
    """Run the suite (or the scenarios `only` names) until one fails: (exit code, what came)."""
    from clinic2fa.scenarios import catalogue
    from clinic2fa.scenarios.core.verdicts import FAILING, Outcome
    from clinic2fa.scenarios.running.execute import run_scenario

    scenarios = _order([s for s in catalogue.load().values() if only is None or s.id in only])
    with _provider(target) as provider:
        for scen in scenarios:
            if lines is not None:
                lines.scenario(scen.id)
            watchdog = threading.Timer(limit, _hung, (scen.id, limit))
            watchdog.daemon = True
            if limit > 0:
                watchdog.start()
            began = time.monotonic()
            try:
                result = run_scenario(scen, provider)  # type: ignore[arg-type]
            finally:
                watchdog.cancel()
            if lines is not None:
                lines.seconds[scen.id] = time.monotonic() - began
            # a rule broken, or the reference crashed; what decides nothing (not applicable
            # here, a race whose requests did not overlap) kills no mutant
            if result.outcome in FAILING or result.outcome is Outcome.ERROR:
                return KILLED, f"killed by {scen.id} ({result.outcome.value}): {result.message}"
    return SURVIVED, f"survived {'all ' if only is None else ''}{len(scenarios)} scenarios"


def _hung(scenario: str, limit: float) -> None:
    """A scenario far slower than on the reference: the mutant hangs; it is killed."""
    print(f"killed by {scenario}: no verdict within {limit:g} s (the mutant hangs)", flush=True)
    os._exit(KILLED)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mutation/oracle.py")
    parser.add_argument("--target", choices=("memory", "http"), default="memory")
    parser.add_argument("--module", help="the mutated module's name, e.g. "
                                         "clinic2fa.simulator.clinic")
    parser.add_argument("--source", help="the mutant's source file")
    parser.add_argument("--scenarios", help="only these scenarios (IDs, comma-separated)")
    parser.add_argument("--trace", type=Path, metavar="FILE",
                        help="write the lines each scenario runs of --files to FILE (JSON)")
    parser.add_argument("--files", nargs="*", default=[], help="modules to trace (paths)")
    parser.add_argument("--limit", type=float, default=SCENARIO_LIMIT, metavar="S",
                        help=f"seconds a scenario may take (default {SCENARIO_LIMIT:g}; "
                             "0: no limit, as when tracing the unmutated reference)")
    args = parser.parse_args(argv)
    lines = Lines(args.files) if args.trace else None
    if lines is not None:
        lines.start()  # before the first import of the project: its import-time lines too
    if args.module and args.source:
        sys.meta_path.insert(0, _Mutant(args.module, args.source))
        try:
            importlib.import_module(args.module)
        except Exception as exc:  # a mutant that breaks its own module's import
            print(f"incompetent: {type(exc).__name__}: {exc}")
            return INCOMPETENT
    if args.target == "memory" and lines is None:  # the trace interleaves already (Lines)
        Interleave(*([args.source] if args.source else [])).start()
    only = set(args.scenarios.split(",")) if args.scenarios else None
    code, said = judge(args.target, only, lines, 0.0 if lines is not None else args.limit)
    if lines is not None:
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]
        lines.write(args.trace)
    print(said)
    return code


if __name__ == "__main__":
    sys.exit(main())
