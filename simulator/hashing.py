"""argon2id hashing of passwords and backup codes (PASSWORD-HASH, BACKUP-HASHED)."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from simulator.policy import HashCost


class Hasher:
    """Salted argon2id hashes; verification is constant-time inside argon2."""

    def __init__(self, cost: HashCost) -> None:
        self._ph = PasswordHasher(time_cost=cost.time_cost, memory_cost=cost.memory_cost,
                                  parallelism=cost.parallelism, type=Type.ID)

    def hash(self, secret: str) -> str:
        return self._ph.hash(secret)

    def verify(self, stored: str, candidate: str) -> bool:
        try:
            return self._ph.verify(stored, candidate)
        except (VerificationError, InvalidHashError):
            return False
