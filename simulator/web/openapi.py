"""Prints the HTTP contract as a deployment serves it: `python -m` this > spec/openapi.json."""

from __future__ import annotations

import sys
from typing import Any

from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.web.app import create_app
from clinic2fa.simulator.web.contract import dumps, schema_of


def schema() -> dict[str, Any]:
    """The contract as a deployment serves it: an app without test support."""
    return schema_of(create_app(Clinic(), test_support=False))


def main() -> int:
    sys.stdout.write(dumps(schema()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
