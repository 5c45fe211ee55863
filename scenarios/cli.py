"""The `clinic2fa` command: list the spec and scenarios, run the suite, serve, load, explore,
check defects.

Start-up is part of every run, so only the command asked for is imported: each subcommand's
options come from its own module, loaded when that subcommand is on the command line (a run on
memory never imports Locust, hypothesis or httpx). `clinic2fa --help` lists them all from the
table below without importing any.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any


def _spec_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _spec(args: argparse.Namespace) -> int:
    import json

    from clinic2fa import spec

    loaded = spec.load()
    print(json.dumps(loaded.to_dict(), indent=2) if args.json else spec.format_listing(loaded))
    return 0


def _list_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--select", nargs="+", action="extend", default=[],
                        metavar="ID-or-glob", help="only scenarios whose ID or spec ID matches")


def _list(args: argparse.Namespace) -> int:
    from clinic2fa.scenarios.running.listing import command

    return command(args)


def _demo(args: argparse.Namespace) -> int:
    from clinic2fa.simulator import demo

    return 0 if demo.run() else 1


def _none(parser: argparse.ArgumentParser) -> None:
    """A subcommand without options."""


# name -> (help, its options, its entry point); "module:function" is imported only when used.
Hook = Callable[..., Any] | str
COMMANDS: dict[str, tuple[str, Hook, Hook]] = {
    "spec": ("list the guide's items and the requirements", _spec_arguments, _spec),
    "list": ("list the scenarios: ID, level, the spec IDs each verifies, what it needs",
             _list_arguments, _list),
    "run": ("run the conformance suite against a target",
            "clinic2fa.scenarios.running.plan:add_run_arguments",
            "clinic2fa.scenarios.running.command:run_command"),
    # the simulator's server; --defect NAME is the harness's, resolved on this side
    "serve": ("run the reference clinic: pages, /api/v1 and test support",
              "clinic2fa.scenarios.selfcheck.serve:add_arguments",
              "clinic2fa.scenarios.selfcheck.serve:command"),
    "load": ("drive a bounded Locust load of full sign-ins and count wrong verdicts",
             "clinic2fa.scenarios.load.command:add_arguments",
             "clinic2fa.scenarios.load.command:load_command"),
    "explore": ("random action sequences on a target and the reference, side by side",
                "clinic2fa.scenarios.explore.explorer:add_arguments",
                "clinic2fa.scenarios.explore.explorer:command"),
    "defects": ("list the seeded defects; --check that the suite catches each one",
                "clinic2fa.scenarios.selfcheck.check:add_arguments",
                "clinic2fa.scenarios.selfcheck.check:command"),
    "demo": ("walk the guide's steps on the in-memory reference", _none, _demo),
}


def _load(hook: Hook) -> Callable[..., Any]:
    if callable(hook):
        return hook
    module, _, name = hook.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


class _Version(argparse.Action):
    """--version, reading the installed version only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        from importlib import metadata

        try:
            version = metadata.version("clinic2fa")
        except metadata.PackageNotFoundError:
            version = "unknown"
        print(f"clinic2fa {version}")
        parser.exit()


def _chosen(argv: Sequence[str]) -> str | None:
    """The subcommand on the command line: the first word that names one."""
    return next((word for word in argv if word in COMMANDS), None)


def parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command line; only the subcommand named in `argv` gets its options (None: all)."""
    top = argparse.ArgumentParser(
        prog="clinic2fa", description="Conformance harness and reference simulator for clinic 2FA.")
    top.add_argument("--version", action=_Version, help="show the installed version and exit")
    commands = top.add_subparsers(dest="command", required=True)
    wanted = None if argv is None else _chosen(argv)
    for name, (text, arguments, entry) in COMMANDS.items():
        sub = commands.add_parser(name, help=text)
        if argv is None or name == wanted:
            _load(arguments)(sub)
            sub.set_defaults(func=entry)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    args = parser(words).parse_args(words)
    try:
        return int(_load(args.func)(args))
    except KeyboardInterrupt:
        print("clinic2fa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `clinic2fa spec | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
