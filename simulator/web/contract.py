"""The committed HTTP contract: the app's OpenAPI for /api/v1; `python -m` prints it."""

from __future__ import annotations

import json
import sys
from typing import Any

from fastapi import FastAPI

TITLE = "clinic2fa HTTP contract"
VERSION = "1.0.0"
REGENERATE = "python -m clinic2fa.simulator.web.contract > spec/openapi.json"


def schema_of(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI of `app`, cut down to /api/v1 (test support and pages are never in it)."""
    full = app.openapi()
    paths = {path: item for path, item in full["paths"].items() if path.startswith("/api/v1/")}
    return {**full, "paths": paths}


def schema() -> dict[str, Any]:
    """The contract as a deployment serves it: an app without test support."""
    from clinic2fa.simulator.clinic import Clinic
    from clinic2fa.simulator.web.app import create_app

    return schema_of(create_app(Clinic(), test_support=False))


def dumps(document: dict[str, Any]) -> str:
    """The one text form spec/openapi.json is written in, so regenerating gives no noise."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    sys.stdout.write(dumps(schema()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
