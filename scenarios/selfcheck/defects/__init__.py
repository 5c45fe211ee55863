"""Seeded defects: variants of the reference that each break one rule of the spec.

`CATALOGUE` maps each name to its `Defect` (the spec IDs it violates, a one-line summary, and
what builds it from Clinic's own keyword arguments); `build(name, **clinic_kwargs)` builds one.
Each area's defects live in a module of their own; importing this package registers them all,
in the order `clinic2fa defects` lists them. A defect may override, replace or call only the
names the reference lists in its SEAMS (tests/test_defect_seams.py holds it to that).
"""

from __future__ import annotations

from clinic2fa.scenarios.selfcheck.defects.registry import (
    CATALOGUE,
    ClinicFactory,
    Defect,
    build,
    factory,
)

# Each area registers its defects as it is imported: this order is the order they are listed in.
# isort: off
from clinic2fa.scenarios.selfcheck.defects import totp
from clinic2fa.scenarios.selfcheck.defects import enrolment
from clinic2fa.scenarios.selfcheck.defects import backup_codes
from clinic2fa.scenarios.selfcheck.defects import signin
from clinic2fa.scenarios.selfcheck.defects import admin
from clinic2fa.scenarios.selfcheck.defects import storage
from clinic2fa.scenarios.selfcheck.defects import passkeys
from clinic2fa.scenarios.selfcheck.defects import races
from clinic2fa.scenarios.selfcheck.defects import hardening
from clinic2fa.scenarios.selfcheck.defects import subjects
from clinic2fa.scenarios.selfcheck.defects import leftovers
from clinic2fa.scenarios.selfcheck.defects import values
from clinic2fa.scenarios.selfcheck.defects.races import NoLocking
# isort: on

AREAS = (totp, enrolment, backup_codes, signin, admin, storage, passkeys, races, hardening,
         subjects, leftovers, values)

__all__ = ["AREAS", "CATALOGUE", "ClinicFactory", "Defect", "NoLocking", "build", "factory"]
