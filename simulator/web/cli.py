"""`clinic2fa serve`: its arguments and entry point; heavy imports wait until it runs.

This serves the reference. The harness adds `--defect NAME` on its side (scenarios/selfcheck/
serve.py) and passes the broken clinic's factory in; the simulator knows nothing of defects.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clinic2fa.simulator.clinic import Clinic


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="localhost",
                        help="interface to listen on (default: localhost; WebAuthn needs a name, "
                             "not 127.0.0.1, in the browser's address bar)")
    parser.add_argument("--port", type=int, default=8000,
                        help="port to listen on; 0 picks a free one (default: 8000)")
    parser.add_argument("--fake-clock", action="store_true",
                        help="run on a clock that only POST /test-support/clock moves")
    parser.add_argument("--test-support", action="store_true",
                        help="mount /test-support (anyone may make accounts and move the "
                             "clock) even on a --host other machines reach; on loopback it "
                             "is always on")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="worker threads for requests (default: 40)")
    parser.add_argument("--log-level", default="info",
                        choices=["critical", "error", "warning", "info", "debug"])


def serve(args: argparse.Namespace, *, make_clinic: Callable[..., Clinic] | None = None,
          variant: str | None = None) -> int:
    """Run the clinic `make_clinic` builds (default: the reference) until Ctrl-C."""
    from clinic2fa.simulator.clinic import Clinic
    from clinic2fa.simulator.web.server import serve as run

    try:
        return run(args.host, args.port, make_clinic=make_clinic or Clinic, variant=variant,
                   fake_clock=args.fake_clock, threads=args.threads, log_level=args.log_level,
                   test_support=True if args.test_support else None)
    except (OSError, ValueError) as exc:  # port in use, a bad address: one line, no traceback
        print(f"clinic2fa serve: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled: the normal way to stop
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="clinic2fa serve",
                                     description="Serve the reference clinic.")
    add_arguments(parser)
    return serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
