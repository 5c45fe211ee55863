"""Reading what a clinic keeps at rest: argon2id hashes in PHC form, parsed and matched."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


@dataclass(frozen=True)
class Argon2Hash:
    """The parts of `$argon2id$v=19$m=...,t=...,p=...$salt$hash` a rule is about."""

    memory_kib: int
    time_cost: int
    parallelism: int
    salt: bytes


def parse(stored: object) -> Argon2Hash | None:
    """The argon2id hash `stored` is, or None for anything else (another algorithm, plain)."""
    if not isinstance(stored, str):
        return None
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] or parts[1] != "argon2id" or not parts[2].startswith("v="):
        return None
    try:
        params = dict(p.split("=", 1) for p in parts[3].split(","))
        salt = _b64(parts[4])
        _b64(parts[5])
        return Argon2Hash(int(params["m"]), int(params["t"]), int(params["p"]), salt)
    except (KeyError, ValueError, binascii.Error):
        return None


def _b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def matches(stored: str, candidate: str) -> bool:
    """Whether `stored` is an argon2 hash of `candidate` (argon2 compares in constant time)."""
    try:
        return PasswordHasher().verify(stored, candidate)
    except (VerificationError, InvalidHashError):
        return False


def spellings(code: str) -> list[str]:
    """The forms a deployment may hash a backup code in: as shown, or without separators in
    either case (the codes are typed with or without the hyphen, in any case)."""
    bare = "".join(ch for ch in code if ch.isalnum())
    return [bare.lower(), code, bare.upper()]  # always three: the same index, the same form


def plain(value: str, secret: str) -> bool:
    """Whether `secret` appears in `value` as is or in one of its spellings."""
    return bool(mentioned([value], [secret]))


def mentioned(texts: Iterable[str], secrets: Iterable[str]) -> list[str]:
    """The secrets that appear in any of `texts`, as is or without case and separators (a
    folded secret of under 6 characters is too short to tell from chance).

    Each text is folded once, so a long audit log against many secrets stays linear."""
    texts = list(texts)
    raw = "\n".join(texts)
    folded = "\n".join(_fold(text) for text in texts)  # "\n" is never in a folded secret
    return [s for s in secrets if s in raw or (len(_fold(s)) >= 6 and _fold(s) in folded)]


def _fold(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum()).lower()
