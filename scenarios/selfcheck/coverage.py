"""The fault model's coverage: for each way a MUST can break, the defects and mutants behind it.

A way is covered by a seeded defect of the catalogue that violates that requirement (the suite
catching every defect is what `defects --check` and the project's tests prove), or by a mutant
of the reference the last mutation run recorded as killed. A way with neither is a gap.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from clinic2fa.scenarios.selfcheck.defects import CATALOGUE, Defect
from clinic2fa.spec import faults

# The mutation run's record of which mutants the suite killed (mutation/README.md).
KILLED_FILE = Path(__file__).resolve().parents[2] / "mutation" / "killed.json"


@dataclass(frozen=True)
class Covered:
    """One way and what stands behind it."""

    way: faults.Way
    defects: tuple[str, ...]  # named defects that exist and violate the requirement
    mutants: tuple[str, ...]  # named mutants the last mutation run killed
    problems: tuple[str, ...]  # names that do not hold (unknown, another rule, survived)

    @property
    def gap(self) -> bool:
        return not self.defects and not self.mutants


def killed_mutants(path: Path = KILLED_FILE) -> frozenset[str]:
    """The mutants the committed mutation record lists as killed (none without a record)."""
    if not path.is_file():
        return frozenset()
    return frozenset(json.loads(path.read_text(encoding="utf-8")).get("killed", []))


def coverage(model: faults.FaultModel | None = None,
             catalogue: Mapping[str, Defect] = CATALOGUE,
             killed: frozenset[str] | None = None) -> list[Covered]:
    """Every way of the fault model with the defects and mutants that cover it."""
    model = model or faults.load()
    killed = killed_mutants() if killed is None else killed
    rows = []
    for way in model.ways:
        defects, mutants, problems = [], [], []
        for name in way.defects:
            defect = catalogue.get(name)
            if defect is None:
                problems.append(f"no defect {name}")
            elif way.requirement not in defect.violates:
                problems.append(f"{name} does not violate {way.requirement}")
            else:
                defects.append(name)
        for name in way.mutants:
            (mutants if name in killed else problems).append(
                name if name in killed else f"mutant {name} not killed")
        rows.append(Covered(way, tuple(defects), tuple(mutants), tuple(problems)))
    return rows


def gaps(rows: Sequence[Covered]) -> list[Covered]:
    return [r for r in rows if r.gap]


HEADER = ("requirement", "kind", "way", "covered by")


def shown(rows: Sequence[Covered]) -> list[tuple[str, str, str, str]]:
    """The listing's rows: requirement, kind, way, and what covers it (or GAP)."""
    out = []
    for row in rows:
        behind = [*row.defects, *(f"mutant {m}" for m in row.mutants)]
        said = ", ".join(behind) if behind else "GAP: nothing covers this way"
        if row.problems:
            said += f"  ({'; '.join(row.problems)})"
        out.append((row.way.requirement, row.way.kind, row.way.way, said))
    return out


def totals(rows: Sequence[Covered]) -> str:
    requirements = len({r.way.requirement for r in rows})
    return f"fault model: {len(rows)} ways over {requirements} requirements, " \
           f"{len(gaps(rows))} gaps"
