"""The committed HTTP contract's name, version and form: the OpenAPI of /api/v1 only."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI

TITLE = "clinic2fa HTTP contract"
VERSION = "1.1.0"
REGENERATE = "python -m clinic2fa.simulator.web.openapi > spec/openapi.json"


def schema_of(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI of `app`, cut down to /api/v1 (test support and pages are never in it)."""
    full = app.openapi()
    paths = {path: item for path, item in full["paths"].items() if path.startswith("/api/v1/")}
    return {**full, "paths": paths}


def dumps(document: dict[str, Any]) -> str:
    """The one text form spec/openapi.json is written in, so regenerating gives no noise."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
