"""The reference simulator's defaults and constants are the spec's parameters, not copies."""

from __future__ import annotations

import base64
import math
from dataclasses import fields
from typing import Any

from webauthn.helpers import base64url_to_bytes

from clinic2fa import spec
from clinic2fa.scenarios.core import stored
from clinic2fa.simulator import backup_codes, totp
from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.hashing import Hasher
from clinic2fa.simulator.policy import FAST_HASH, HashCost, Policy
from clinic2fa.simulator.users import Role

Where = tuple[str, str] | None  # (requirement ID, parameter name), or no requirement sets it

# Every Policy field, and the parameter that sets its default.
POLICY_PARAMETERS: dict[str, Where] = {
    "issuer": ("KEY-URI", "issuer"),
    "period": ("TOTP-STEP", "period"),
    "digits": ("TOTP-STEP", "digits"),
    "window": ("TOTP-WINDOW", "window"),
    "skew_horizon": ("SKEW-REASON", "skew_horizon"),
    "max_failures": ("TOTP-RATE-LIMIT", "max_failures"),
    "lockout_seconds": ("TOTP-RATE-LIMIT", "lockout_seconds"),
    "pending_ttl": ("SIGNIN-PENDING-EXPIRES", "pending_seconds"),
    "backup_code_count": ("BACKUP-COUNT", "count"),
    "session_ttl": None,  # how long a full session lasts: no requirement sets it
    "hash_cost": None,  # a HashCost, compared field by field below
    "password_max_failures": ("PASSWORD-RATE-LIMIT", "max_failures"),
    "password_lockout_seconds": ("PASSWORD-RATE-LIMIT", "lockout_seconds"),
    "max_consecutive_failures": ("RATE-LIMIT-CAP", "max_consecutive"),
    "max_body_bytes": ("REQUEST-SIZE-LIMIT", "max_body_bytes"),
    "cache_control": ("SECRET-NO-STORE", "cache_control"),
}
HASH_COST_PARAMETERS: dict[str, Where] = {
    "time_cost": ("PASSWORD-HASH", "time_cost"),
    "memory_cost": ("PASSWORD-HASH", "memory_kib"),
    "parallelism": ("PASSWORD-HASH", "parallelism"),
}


def disagreements(settings: Any, parameters: dict[str, Where]) -> list[str]:
    """Each setting that differs from the spec's value for it, one line each."""
    loaded = spec.load()
    found = []
    for name, where in parameters.items():
        if where is None:
            continue
        expected, got = loaded.parameter(*where).value, getattr(settings, name)
        if got != expected:
            found.append(f"{name} is {got!r}, {where[0]} {where[1]} is {expected!r}")
    return found


def value(req_id: str, name: str) -> Any:
    return spec.load().parameter(req_id, name).value


def test_every_policy_field_is_listed_with_its_parameter_or_none() -> None:
    assert [f.name for f in fields(Policy)] == list(POLICY_PARAMETERS)
    assert [f.name for f in fields(HashCost)] == list(HASH_COST_PARAMETERS)


def test_policy_defaults_agree_with_the_spec() -> None:
    assert disagreements(Policy(), POLICY_PARAMETERS) == []
    assert disagreements(HashCost(), HASH_COST_PARAMETERS) == []
    assert Policy().hash_cost == HashCost()


def test_a_setting_off_the_spec_is_reported() -> None:
    """The comparison above can fail: a policy that differs from the spec is named."""
    assert disagreements(Policy(window=2, issuer="Other"), POLICY_PARAMETERS) == [
        "issuer is 'Other', KEY-URI issuer is 'MyDentalPractice'",
        "window is 2, TOTP-WINDOW window is 1",
    ]
    assert len(disagreements(FAST_HASH, HASH_COST_PARAMETERS)) == 2  # parallelism agrees


def test_policy_defaults_are_within_the_spec_bounds() -> None:
    for name, where in POLICY_PARAMETERS.items():
        if where is not None:
            assert spec.load().parameter(*where).allows(getattr(Policy(), name)), name


def test_totp_parameters_and_secret_size_agree_with_the_spec() -> None:
    assert totp.TotpParams() == totp.TotpParams(
        algorithm=value("TOTP-STEP", "algorithm"), digits=value("TOTP-STEP", "digits"),
        period=value("TOTP-STEP", "period"))
    secret = totp.new_secret()
    raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
    assert len(raw) * 8 == value("TOTP-SECRET-SIZE", "secret_bits")


def test_backup_codes_agree_with_the_spec() -> None:
    length, symbols = backup_codes.LENGTH, len(set(backup_codes.ALPHABET))
    assert length == value("BACKUP-ENTROPY", "code_length")
    assert symbols == len(backup_codes.ALPHABET) == value("BACKUP-ENTROPY", "alphabet_size")
    assert length * math.log2(symbols) == value("BACKUP-ENTROPY", "entropy_bits")
    (code,) = backup_codes.generate(1)
    assert len(backup_codes.normalise(code)) == length


def test_salts_agree_with_the_spec() -> None:
    found = stored.parse(Hasher(FAST_HASH).hash("a password"))
    assert found is not None
    assert len(found.salt) * 8 == value("PASSWORD-HASH", "salt_bits")
    assert len(found.salt) * 8 == value("BACKUP-HASHED", "salt_bits")


def test_passkey_challenge_agrees_with_the_spec() -> None:
    clinic = Clinic(clock=FakeClock(), policy=Policy(hash_cost=FAST_HASH))
    clinic.add_user("nurse@clinic.test", "nurse-Pa55-gentle-floss", Role.STAFF)
    token = clinic.sign_in("nurse@clinic.test", "nurse-Pa55-gentle-floss").token
    challenge = base64url_to_bytes(clinic.begin_passkey_setup(token)["challenge"])
    assert len(challenge) == value("PASSKEY-CHALLENGE", "challenge_bytes")
