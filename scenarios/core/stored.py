"""Reading what a clinic keeps at rest: argon2id hashes in PHC form, and the other approved
password hashing functions in their usual forms (Django's, passlib's, bcrypt's), parsed and
matched."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field

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


# The password hashing functions OWASP's Password Storage Cheat Sheet names (PASSWORD-HASH).
PASSWORD_FUNCTIONS = ("argon2id", "scrypt", "bcrypt", "pbkdf2_sha256", "pbkdf2_sha512")


@dataclass(frozen=True)
class PasswordHash:
    """A stored password hash: its function, its cost parameters (reported) and its salt."""

    function: str  # one of PASSWORD_FUNCTIONS
    salt: bytes
    cost: dict[str, int] = field(default_factory=dict)
    # shown masked, as Django's admin shows it ("PvNs3K****" for the salt and the hash): the
    # salt's length and first characters are seen, not the rest, nor the hash
    masked: bool = False

    def visible_salt(self) -> bytes:
        """The part of the salt that was seen (all of it, unless masked)."""
        return self.salt.rstrip(b"*") if self.masked else self.salt


def parse_password(stored: object) -> PasswordHash | None:
    """The approved password hash `stored` is, or None for anything else (a fast hash, plain)."""
    argon = parse(stored)
    if argon is not None:
        return PasswordHash("argon2id", argon.salt, {"m": argon.memory_kib, "t": argon.time_cost,
                                                      "p": argon.parallelism})
    if not isinstance(stored, str):
        return None
    parts = stored.split("$")
    try:
        masked = len(parts) > 2 and ("*" in parts[2] or "*" in parts[-1])  # as Django's admin
        if parts[0] in ("pbkdf2_sha256", "pbkdf2_sha512") and len(parts) == 4:  # Django
            return PasswordHash(parts[0], parts[2].encode(), {"iterations": int(parts[1])},
                                masked)
        if parts[0] == "scrypt" and len(parts) == 6:  # Django: scrypt$N$salt$r$p$hash
            return PasswordHash("scrypt", parts[2].encode(),
                                {"n": int(parts[1]), "r": int(parts[3]), "p": int(parts[4])},
                                masked)
        if len(parts) == 5 and not parts[0] and parts[1] in ("pbkdf2-sha256", "pbkdf2-sha512"):
            return PasswordHash(parts[1].replace("-", "_"), _ab64(parts[3]),  # passlib
                                {"iterations": int(parts[2])})
        if len(parts) == 4 and not parts[0] and parts[1] in ("2a", "2b", "2y") \
                and len(parts[3]) == 53:
            return PasswordHash("bcrypt", parts[3][:22].encode(), {"cost": int(parts[2])})
    except (ValueError, binascii.Error):
        return None
    return None


def matches_password(stored: str, candidate: str) -> bool | None:
    """Whether `stored` is a hash of `candidate`; None where no verifier is here (bcrypt
    without the bcrypt package) or the hash was shown masked."""
    found = parse_password(stored)
    if found is None:
        return False
    if found.masked:  # the hash is not shown: nothing to compare with
        return None
    if found.function == "argon2id":
        return matches(stored, candidate)
    parts, secret = stored.split("$"), candidate.encode()
    if found.function == "bcrypt":
        try:
            import bcrypt  # lazily: only deployments that chose bcrypt need it
        except ImportError:
            return None
        return bool(bcrypt.checkpw(secret, stored.encode()))
    if found.function == "scrypt":
        made = hashlib.scrypt(secret, salt=found.salt, n=found.cost["n"], r=found.cost["r"],
                              p=found.cost["p"], dklen=64, maxmem=2**31 - 1)
        return hmac.compare_digest(base64.b64encode(made).decode(), parts[5])
    digest = found.function.rpartition("_")[2]
    made = hashlib.pbkdf2_hmac(digest, secret, found.salt, found.cost["iterations"])
    if parts[0]:  # Django: standard base64
        return hmac.compare_digest(base64.b64encode(made).decode(), parts[3])
    return hmac.compare_digest(made, _ab64(parts[4]))


def _ab64(text: str) -> bytes:
    """passlib's adapted base64: '.' for '+', no padding."""
    return _b64(text.replace(".", "+"))


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
