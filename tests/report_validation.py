"""Every report.json (and defects.json) checked against the schema the project publishes.

Used three ways: tests/conftest.py checks each report the test suite writes (in this process as
it is written, and every file under the session's temporary folders at the end, child
processes' included); tests/test_report_validation.py proves the check fails on a bad report;
and `.ci/run` runs this file on the reports of `make` and `make example-python-target`:

    python tests/report_validation.py DIR [DIR ...]     # exit 1 and one line per bad file
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS = {"report.json": "report.schema.json", "defects.json": "defects.schema.json"}
# A folder holding this file keeps a broken report on purpose (a test of reading one).
ON_PURPOSE = ".invalid-on-purpose"


@cache
def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads(resources.files("clinic2fa.spec").joinpath(SCHEMAS[name])
                        .read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def problems(data: Any, name: str = "report.json") -> list[str]:
    """Why `data` is not a valid `name` (empty: it is), one line per error, worst first."""
    errors = sorted(validator(name).iter_errors(data), key=lambda e: e.path)
    return [f"{e.json_path}: {e.message[:300]}" for e in errors]


def reports_under(roots: Iterable[Path]) -> Iterator[Path]:
    for root in roots:
        for name in SCHEMAS:
            for path in sorted(Path(root).rglob(name)):
                if not (path.parent / ON_PURPOSE).exists():
                    yield path


def invalid(roots: Iterable[Path]) -> tuple[int, list[str]]:
    """(files checked, one line per invalid file) for every report under the roots."""
    seen, bad = 0, []
    for path in reports_under(roots):
        seen += 1
        try:
            found = problems(json.loads(path.read_text(encoding="utf-8")), path.name)
        except (OSError, ValueError) as exc:
            found = [f"unreadable: {exc}"]
        if found:
            bad.append(f"{path}: {found[0]}" + (f" (+{len(found) - 1} more)"
                                                if len(found) > 1 else ""))
    return seen, bad


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    missing = [a for a in argv if not Path(a).is_dir()]
    if missing:
        print(f"report_validation: no such folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    seen, bad = invalid(Path(a) for a in argv)
    for line in bad:
        print(line)
    print(f"{seen} report files checked against spec/*.schema.json: "
          f"{len(bad) or 'none'} invalid")
    return 1 if bad or not seen else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
