"""`clinic2fa serve [--defect NAME]`: the simulator's server, composed with a seeded defect's
clinic when one is named; `served()` is the same in a thread, for `defects --check`."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from clinic2fa.simulator.web import cli as simulator_cli

if TYPE_CHECKING:  # the rest waits until a server starts, as the simulator's own cli does
    from clinic2fa.simulator.web.server import ClinicFactory


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's own options, and --defect."""
    simulator_cli.add_arguments(parser)
    parser.add_argument("--defect", metavar="NAME", default=None,
                        help="serve a deliberately broken clinic, one of `clinic2fa defects` "
                             "(the harness's self-test)")


def clinic_factory(defect: str | None) -> ClinicFactory:
    """What builds the clinic to serve: the reference, or the seeded defect `defect`.

    KeyError, with a one-line message, for a name the catalogue does not have.
    """
    from clinic2fa.scenarios.selfcheck import defects
    from clinic2fa.simulator.clinic import Clinic

    return Clinic if defect is None else defects.factory(defect)


def command(args: argparse.Namespace) -> int:
    """Entry point for `clinic2fa serve`: 2 and one line for an unknown defect, before binding."""
    try:
        make = clinic_factory(args.defect)
    except KeyError as exc:
        print(f"clinic2fa serve: {exc.args[0]}", file=sys.stderr)
        return 2
    return simulator_cli.serve(args, make_clinic=make,
                               variant=f"defect {args.defect}" if args.defect else None)


@contextmanager
def served(defect: str | None, log_file: Path | None = None) -> Iterator[str]:
    """`clinic2fa serve --fake-clock [--defect NAME]` in a thread on a free port; its URL.

    Built as serve() builds it (demo accounts, default policy, test support, each reset a fresh
    clinic from the same factory), but on a FakeClock so scenarios that move the clock run too.
    The server's own log (a request cut off at shutdown is a traceback) goes to `log_file`,
    when given, instead of the console.
    """
    from clinic2fa.simulator.clock import FakeClock
    from clinic2fa.simulator.web.server import (
        demo_accounts,
        demo_app,
        listen,
        public_origin,
        running,
    )

    make = clinic_factory(defect)
    sock = listen("localhost", 0)
    try:
        origin, rp_id = public_origin("localhost", sock.getsockname()[1])
        app = demo_app(demo_accounts(), clock=FakeClock(time.time()), origin=origin, rp_id=rp_id,
                       make_clinic=make)
    except BaseException:
        sock.close()
        raise
    with running(app, sock=sock, log_file=log_file) as url:
        yield url
