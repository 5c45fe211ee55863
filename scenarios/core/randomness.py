"""Whether a secret's bits look drawn at random: structure a short sample can still show.

A secret of the right length may carry far fewer random bits (passlib's getrandbytes shifts its
random integer 3 bits per byte, so each byte repeats 5 bits of the one before: about 65 random
bits in 20 bytes). No test proves randomness; this one finds bits that repeat at a fixed
distance, which a random secret shows only by chance (a z-score past LIMIT: about 1 in 10^7).
"""

from __future__ import annotations

import math

LIMIT = 5.5  # standard deviations from "half agree", over every lag and both bit orders
MAX_LAG = 16  # two bytes: a repeat within or across neighbouring bytes


def _bits(raw: bytes, lsb_first: bool) -> list[int]:
    order = range(8) if lsb_first else range(7, -1, -1)
    return [(byte >> i) & 1 for byte in raw for i in order]


def repeated_bits(raw: bytes) -> str | None:
    """None, or what repeats: 'bits 5 apart agree in 125 of 155 places (random: about 78)'."""
    worst: tuple[float, str] | None = None
    for lsb_first in (True, False):
        bits = _bits(raw, lsb_first)
        for lag in range(1, MAX_LAG + 1):
            n = len(bits) - lag
            if n < 32:
                break
            agree = sum(bits[i] == bits[i + lag] for i in range(n))
            z = abs(agree - n / 2) / math.sqrt(n / 4)
            if z > LIMIT and (worst is None or z > worst[0]):
                worst = (z, f"bits {lag} apart ({'low' if lsb_first else 'high'} bit first) "
                            f"agree in {agree} of {n} places (random: about {n / 2:.0f})")
    return worst[1] if worst else None
