"""The `clinic2fa` command: list the spec and scenarios, run the suite, serve, load, explore,
check defects."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def _spec(args: argparse.Namespace) -> int:
    import json

    from clinic2fa import spec

    loaded = spec.load()
    print(json.dumps(loaded.to_dict(), indent=2) if args.json else spec.format_listing(loaded))
    return 0


def _list(args: argparse.Namespace) -> int:
    from clinic2fa.scenarios.running.listing import command

    return command(args)


def _run(args: argparse.Namespace) -> int:
    from clinic2fa.scenarios.running.command import run_command  # pytest: only when running

    return run_command(args)


def _demo(args: argparse.Namespace) -> int:
    from clinic2fa.simulator import demo

    return 0 if demo.run() else 1


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="clinic2fa", description="Conformance harness and reference simulator for clinic 2FA.")
    from clinic2fa.scenarios.reports.document import harness_version

    top.add_argument("--version", action="version", version=f"clinic2fa {harness_version()}")
    commands = top.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("spec", help="list the guide's items and the requirements")
    listing.add_argument("--json", action="store_true", help="print JSON instead of text")
    listing.set_defaults(func=_spec)

    scenarios = commands.add_parser(
        "list", help="list the scenarios: ID, level, the spec IDs each verifies, what it needs")
    scenarios.add_argument("--json", action="store_true", help="print JSON instead of text")
    scenarios.add_argument("--select", nargs="+", action="extend", default=[],
                           metavar="ID-or-glob", help="only scenarios whose ID or spec ID matches")
    scenarios.set_defaults(func=_list)

    run = commands.add_parser("run", help="run the conformance suite against a target")
    from clinic2fa.scenarios.running.plan import add_run_arguments

    add_run_arguments(run)
    run.set_defaults(func=_run)

    serving = commands.add_parser(
        "serve", help="run the reference clinic: pages, /api/v1 and test support")
    # the simulator's server; --defect NAME is the harness's, resolved on this side
    from clinic2fa.scenarios.selfcheck.serve import add_arguments, command

    add_arguments(serving)
    serving.set_defaults(func=command)

    loading = commands.add_parser(
        "load", help="drive a bounded Locust load of full sign-ins and count wrong verdicts")
    from clinic2fa.scenarios.load.command import add_arguments as add_load_arguments
    from clinic2fa.scenarios.load.command import load_command

    add_load_arguments(loading)
    loading.set_defaults(func=load_command)

    exploring = commands.add_parser(
        "explore", help="random action sequences on a target and the reference, side by side")
    from clinic2fa.scenarios.explore.explorer import add_arguments as add_explore_arguments
    from clinic2fa.scenarios.explore.explorer import command as explore_command

    add_explore_arguments(exploring)
    exploring.set_defaults(func=explore_command)

    checking = commands.add_parser(
        "defects", help="list the seeded defects; --check that the suite catches each one")
    from clinic2fa.scenarios.selfcheck.check import add_arguments as add_defects_arguments
    from clinic2fa.scenarios.selfcheck.check import command as defects_command

    add_defects_arguments(checking)
    checking.set_defaults(func=defects_command)

    demo = commands.add_parser("demo", help="walk the guide's steps on the in-memory reference")
    demo.set_defaults(func=_demo)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("clinic2fa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `clinic2fa spec | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
