"""TOTP-SECRET-SIZE checks a secret's randomness, not only its length: a 20-byte secret that
repeats 5 bits in every byte (passlib's getrandbytes, behind Flask-Security-Too) fails."""

from __future__ import annotations

import base64
import random
import re

import pytest
from browser_support import outcome
from playwright.sync_api import Browser

from clinic2fa.scenarios.core.randomness import repeated_bits
from clinic2fa.simulator import totp

SCENARIO = "TOTP-SECRET-SIZE-160-BITS"


def _overlapping(rng: random.Random, size: int = 20) -> bytes:
    """passlib.utils.getrandbytes: one random integer, shifted 3 bits (not 8) per byte."""
    value, out = rng.getrandbits(size << 3), []
    for _ in range(size):
        out.append(value & 0xFF)
        value >>= 3
    return bytes(out)


def test_bits_repeating_at_a_fixed_distance_are_found() -> None:
    rng = random.Random(14)  # a fixed sample: the test decides the same way every run
    assert all(repeated_bits(_overlapping(rng)) for _ in range(200))
    said = repeated_bits(_overlapping(rng))
    assert said is not None and re.match(
        r"bits (5 apart \(low|11 apart \(high) bit first\) agree in \d+ of 1[45]\d places", said)
    assert not any(repeated_bits(rng.randbytes(20)) for _ in range(2000))
    assert repeated_bits(bytes(20)) is not None  # all zeros: every bit agrees


@pytest.mark.parametrize("weak", [False, True], ids=["reference", "overlapping-bytes"])
def test_in_the_browser_a_weak_secret_of_the_right_length_fails(
        browser: Browser, monkeypatch: pytest.MonkeyPatch, weak: bool) -> None:
    if weak:
        rng = random.Random(16)
        monkeypatch.setattr(totp, "new_secret", lambda: base64.b32encode(
            _overlapping(rng)).decode("ascii"))
    result = outcome(browser, SCENARIO)
    if weak:
        assert result.outcome.value == "fail"
        assert "160 bits long but not 160 random bits: bits " in result.message
    else:
        assert (result.outcome.value, result.message) == ("pass", "")
