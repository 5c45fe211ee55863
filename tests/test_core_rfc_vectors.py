"""RFC 6238 Appendix B and RFC 4226 Appendix D through the simulator's own TOTP path (TOTP-STEP).

The trap in RFC 6238: the seed is ASCII "1234567890" repeated to the HMAC's output length,
20 bytes for SHA-1, 32 for SHA-256 and 64 for SHA-512, not the same 20-byte seed for all three.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import pytest

from clinic2fa.simulator.clinic import Stage
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.totp import Algorithm, TotpParams, code_at_step, match_step, step_of

if TYPE_CHECKING:
    from conftest import Helpers


def seed(length: int) -> str:
    """The RFC seed as pyotp wants it: ASCII "1234567890..." cut to length, then base32."""
    raw = (b"1234567890" * 7)[:length]
    return base64.b32encode(raw).decode("ascii")


SEEDS: dict[Algorithm, str] = {"SHA1": seed(20), "SHA256": seed(32), "SHA512": seed(64)}

# RFC 6238 Appendix B: (time, SHA-1, SHA-256, SHA-512), 8 digits, X = 30, T0 = 0.
RFC6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),  # past 2038: 64-bit time
]
ALGORITHMS: tuple[Algorithm, ...] = ("SHA1", "SHA256", "SHA512")
RFC6238_CASES = [
    pytest.param(algorithm, row[0], row[i + 1], id=f"{algorithm}-{row[0]}")
    for row in RFC6238
    for i, algorithm in enumerate(ALGORITHMS)
]

# RFC 4226 Appendix D: HOTP, secret ASCII "12345678901234567890", SHA-1, 6 digits.
RFC4226 = ["755224", "287082", "359152", "969429", "338314",
           "254676", "287922", "162583", "399871", "520489"]


def test_TOTP_STEP_rfc6238_seeds_have_the_per_algorithm_lengths() -> None:
    """Guard the trap itself: a 20-byte seed for all three would silently pass nothing."""
    assert [len(base64.b32decode(SEEDS[a])) for a in ALGORITHMS] == [20, 32, 64]


@pytest.mark.parametrize(("algorithm", "t", "expected"), RFC6238_CASES)
def test_TOTP_STEP_rfc6238_appendix_b_code_at_step(algorithm: Algorithm, t: int,
                                                  expected: str) -> None:
    params = TotpParams(algorithm=algorithm, digits=8)
    step = step_of(t, params)
    assert step == t // 30
    assert code_at_step(SEEDS[algorithm], step, params) == expected


@pytest.mark.parametrize(("algorithm", "t", "expected"), RFC6238_CASES)
def test_TOTP_STEP_rfc6238_appendix_b_match_step(algorithm: Algorithm, t: int,
                                                expected: str) -> None:
    """The verifier side finds the vector's step, and only with the right algorithm."""
    params = TotpParams(algorithm=algorithm, digits=8)
    step = step_of(t, params)
    assert match_step(SEEDS[algorithm], expected, step, 0, params) == step
    assert match_step(SEEDS[algorithm], expected, step + 1, 1, params) == step
    for other in ALGORITHMS:
        if other != algorithm:
            wrong = TotpParams(algorithm=other, digits=8)
            assert match_step(SEEDS[algorithm], expected, step, 1, wrong) is None


@pytest.mark.parametrize(("counter", "expected"), list(enumerate(RFC4226)))
def test_TOTP_STEP_rfc4226_appendix_d(counter: int, expected: str) -> None:
    params = TotpParams(algorithm="SHA1", digits=6)
    assert code_at_step(SEEDS["SHA1"], counter, params) == expected
    assert match_step(SEEDS["SHA1"], expected, counter, 0, params) == counter


def test_TOTP_STEP_rfc6238_sha1_vectors_through_clinic_verification(
        helpers: type[Helpers], monkeypatch: pytest.MonkeyPatch) -> None:
    """All six SHA-1 times through enrolment and sign-in of an 8-digit clinic on a FakeClock.

    The clinic's fresh secret is replaced by the RFC seed for this one test.
    """
    monkeypatch.setattr("clinic2fa.simulator.totp.new_secret", lambda: SEEDS["SHA1"])
    clock = FakeClock(59)
    clinic = helpers.build_clinic(clock, digits=8, window=0)
    email, password = "owner@clinic.test", "owner-Pa55-correct-horse"
    token = clinic.sign_in(email, password).token
    setup = clinic.start_authenticator_setup(token)
    assert f"secret={SEEDS['SHA1']}" in setup.uri
    clinic.confirm_authenticator(token, "94287082")  # t = 59
    for t, expected, _, _ in RFC6238[1:]:
        clock.set(t)
        pending = clinic.sign_in(email, password)
        assert pending.stage is Stage.SECOND_STEP
        assert clinic.enter_code(pending.token, expected).stage is Stage.SIGNED_IN
