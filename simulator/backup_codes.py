"""Backup codes: random, single-use, stored only as argon2id hashes (BACKUP-*)."""

from __future__ import annotations

import secrets

from simulator.hashing import Hasher

# Crockford base32 without i, l, o, u: nothing a person can misread; 10 characters = 50 bits.
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
LENGTH = 10


def generate(count: int) -> list[str]:
    """Fresh codes from the OS CSPRNG (BACKUP-ENTROPY), grouped xxxxx-xxxxx for reading."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def normalise(code: str) -> str:
    """What the person typed, without case, spaces or hyphens."""
    return "".join(code.split()).replace("-", "").lower()


def hash_all(codes: list[str], hasher: Hasher) -> list[str | None]:
    """The only form the reference keeps (BACKUP-HASHED)."""
    return [hasher.hash(normalise(c)) for c in codes]


def spend(hashes: list[str | None], code: str, hasher: Hasher) -> bool:
    """Mark the matching unused code as spent and say whether one matched (BACKUP-SINGLE-USE)."""
    candidate = normalise(code)
    if len(candidate) != LENGTH:
        return False
    for i, stored in enumerate(hashes):
        if stored is not None and hasher.verify(stored, candidate):
            hashes[i] = None
            return True
    return False
