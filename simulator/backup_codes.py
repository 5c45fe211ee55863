"""Backup codes: random, single-use, stored only as argon2id hashes (BACKUP-*)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from clinic2fa.simulator.hashing import Hasher

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


@dataclass(frozen=True)
class Issue:
    """A new set of codes: shown once to the person, while only the hashes are kept."""

    codes: list[str]
    hashes: list[str]


def issue(count: int, hasher: Hasher) -> Issue:
    """`count` fresh codes and their hashes, hashed in parallel; touches no clinic state."""
    codes = generate(count)
    return Issue(codes, hash_all(codes, hasher))


def hash_all(codes: list[str], hasher: Hasher) -> list[str]:
    """The only form the reference keeps (BACKUP-HASHED)."""
    return hasher.hash_many(normalise(c) for c in codes)


def find(hashes: Sequence[str | None], code: str, hasher: Hasher) -> int | None:
    """The index of the unspent hash `code` matches, or None; changes nothing."""
    candidate = normalise(code)
    if len(candidate) != LENGTH:
        return None
    return hasher.first_match(hashes, candidate)


def spend(hashes: list[str | None], code: str, hasher: Hasher) -> bool:
    """Mark the matching unused code as spent and say whether one matched (BACKUP-SINGLE-USE).

    Not atomic: the caller holds a lock, or re-checks the slot before spending as the clinic does.
    """
    index = find(hashes, code, hasher)
    if index is None:
        return False
    hashes[index] = None
    return True
