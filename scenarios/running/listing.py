"""`clinic2fa list [--json]`: the scenarios, without running them (no pytest needed)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from clinic2fa import spec
from clinic2fa.scenarios import catalogue as catalogue_mod
from clinic2fa.scenarios.core.model import Scenario
from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.reports.document import source_of


def describe(scen: Scenario, loaded: spec.Spec) -> dict[str, Any]:
    """One scenario as `list --json` shows it: what it checks and what it needs."""
    serves = catalogue_mod.spec_ids(scen, loaded)
    return {"id": scen.id, "title": scen.title, "level": scen.level.value,
            "verifies": list(scen.verifies),
            "guide_items": [g.id for g in loaded.guide_items if g.id in serves],
            "needs": [n.value for n in scen.needs], "module": scen.module,
            "quote": scen.quote, "source": source_of(scen)}


def text(rows: list[dict[str, Any]]) -> str:
    widths = [max([len(r["id"]) for r in rows] + [8]), 6,
              max([len(", ".join(r["verifies"])) for r in rows] + [8])]
    lines = [f"{'scenario':<{widths[0]}}  {'level':<6}  {'verifies':<{widths[2]}}  needs",
             f"{'-' * widths[0]}  {'-' * 6}  {'-' * widths[2]}  -----"]
    lines += [f"{r['id']:<{widths[0]}}  {r['level']:<6}  {', '.join(r['verifies']):<{widths[2]}}"
              f"  {', '.join(r['needs']) or '-'}".rstrip() for r in rows]
    lines.append(f"\n{len(rows)} scenarios")
    return "\n".join(lines)


def command(args: argparse.Namespace, out: TextIO | None = None,
            err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    loaded = spec.load()
    try:
        chosen = catalogue_mod.select(catalogue_mod.load(), args.select, loaded)
    except UsageError as exc:
        print(f"clinic2fa list: {exc}", file=err)
        return 2
    rows = [describe(s, loaded) for s in chosen]
    print(json.dumps(rows, indent=2) if args.json else text(rows), file=out)
    return 0
