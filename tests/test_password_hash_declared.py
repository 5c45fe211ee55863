"""PASSWORD-HASH holds a deployment to the approved function it declares, not to argon2id: a
clinic keeping Django's PBKDF2-SHA256 passes where it declares it, fails where it declares
another, and a fast hash fails whatever it declares."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any, ClassVar

import pytest

from clinic2fa.scenarios import catalogue
from clinic2fa.scenarios.contract import Needs
from clinic2fa.scenarios.core import stored
from clinic2fa.scenarios.core.context import Context, NonConformance
from clinic2fa.scenarios.core.policy import REFERENCE
from clinic2fa.scenarios.core.trace import Trace
from clinic2fa.scenarios.targets.memory import MemoryTarget
from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.policy import FAST_HASH, Policy
from clinic2fa.simulator.users import Role, User

CATALOGUE = catalogue.load()


def django_pbkdf2(password: str, salt: str | None = None, iterations: int = 600_000) -> str:
    """Django's PBKDF2PasswordHasher.encode, written out."""
    salt = salt or secrets.token_hex(11)
    made = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(made).decode()}"


class Pbkdf2Clinic(Clinic):
    """Keeps passwords as Django does by default (PBKDF2-SHA256, few iterations for speed)."""

    fast = False  # a fast, unsalted SHA-256 instead: outside every approved function

    def add_user(self, email: str, password: str, role: Role, name: str = "") -> User:
        kept = hashlib.sha256(password.encode()).hexdigest() if self.fast else \
            django_pbkdf2(password, iterations=1_000)
        return self.add_hashed_user(email, kept, role, name)

    def _check_password(self, user: User | None, password: str) -> bool:
        if user is None:
            return False
        if self.fast:
            return user.password_hash == hashlib.sha256(password.encode()).hexdigest()
        return stored.matches_password(user.password_hash, password) is True


class FastHashClinic(Pbkdf2Clinic):
    fast = True


def run(clinic: type[Clinic], kind: type[MemoryTarget] = MemoryTarget, **declared: Any) -> Trace:
    clock = FakeClock()
    target = kind(clinic(clock=clock, policy=Policy(hash_cost=FAST_HASH)), clock)
    trace = Trace()
    ctx = Context(target, trace, frozenset(target.capabilities), REFERENCE.with_changes(**declared))
    try:
        CATALOGUE["PASSWORD-HASH-STORAGE"].run(ctx)
    finally:
        assert not ctx.run_cleanups()
    return trace


def test_pbkdf2_declared_passes() -> None:
    trace = run(Pbkdf2Clinic, password_hash="pbkdf2_sha256")
    assert any(e.text.startswith("pbkdf2_sha256 {'iterations': 1000}") for e in trace.entries)


def test_pbkdf2_where_argon2id_is_declared_fails() -> None:
    with pytest.raises(NonConformance, match="a pbkdf2_sha256 hash, not argon2id as declared"):
        run(Pbkdf2Clinic)


@pytest.mark.parametrize("declared", stored.PASSWORD_FUNCTIONS)
def test_a_fast_hash_fails_whatever_is_declared(declared: str) -> None:
    with pytest.raises(NonConformance, match="not a hash of an approved password hashing"):
        run(FastHashClinic, password_hash=declared)


@pytest.mark.parametrize("kept", [
    django_pbkdf2("s3cret", "abcdefghijkl", 1000),
    "$pbkdf2-sha256$1000$" + base64.b64encode(b"saltsalt").decode().rstrip("=").replace("+", ".")
    + "$" + base64.b64encode(hashlib.pbkdf2_hmac("sha256", b"s3cret", b"saltsalt", 1000))
    .decode().rstrip("=").replace("+", "."),
    "scrypt$16384$abcdefghijkl$8$1$" + base64.b64encode(hashlib.scrypt(
        b"s3cret", salt=b"abcdefghijkl", n=16384, r=8, p=1, dklen=64)).decode(),
], ids=["django-pbkdf2", "passlib-pbkdf2", "django-scrypt"])
def test_the_usual_forms_are_read_and_matched(kept: str) -> None:
    assert stored.parse_password(kept) is not None
    assert stored.matches_password(kept, "s3cret") is True
    assert stored.matches_password(kept, "s3cres") is False


def masked(kept: str) -> str:
    """As Django's admin shows a hash (hashers.mask_hash: the first 6 characters of the salt and
    of the hash, the rest as many '*')."""
    algorithm, iterations, salt, digest = kept.split("$")
    return "$".join((algorithm, iterations, *(part[:6] + "*" * len(part[6:])
                                              for part in (salt, digest))))


def test_a_masked_hash_is_read_but_not_matched() -> None:
    found = stored.parse_password(masked(django_pbkdf2("s3cret", "abcdefghijklmnopqrstuv")))
    assert found is not None and found.masked and found.function == "pbkdf2_sha256"
    assert len(found.salt) == 22 and found.visible_salt() == b"abcdef"
    assert stored.matches_password(masked(django_pbkdf2("s3cret")), "s3cret") is None
    whole = stored.parse_password(django_pbkdf2("s3cret", "abcdefghijkl"))
    assert whole is not None and not whole.masked and whole.visible_salt() == b"abcdefghijkl"


class AdminPagesTarget(MemoryTarget):
    """The store seen only as the owner's admin page shows it: Django's masked summary."""

    capabilities = frozenset(MemoryTarget.capabilities - {Needs.INSPECT})
    salts: ClassVar[list[str]] = []  # set per test: the salts the pages show, in turn

    def stored_password(self, session: str, email: str) -> str | None:
        self.clinic.profile(self._t(session))
        kept = self.clinic.stored_credentials(email)["password"]
        if self.salts:  # the same visible salt for both accounts
            algorithm, iterations, _, digest = kept.split("$")
            kept = "$".join((algorithm, iterations, self.salts.pop(0), digest))
        return masked(kept)


def shown(salts: list[str], **declared: Any) -> Trace:
    AdminPagesTarget.salts = salts
    return run(Pbkdf2Clinic, AdminPagesTarget, **{"password_hash": "pbkdf2_sha256", **declared})


def test_a_masked_hash_on_the_owners_page_is_judged_by_its_form() -> None:
    trace = shown([])
    assert any(e.kind == "call" and e.text == "sign_in" for e in trace.entries)  # the owner
    assert not [e.text for e in trace.entries if e.kind == "unverified"]
    notes = [e.text for e in trace.entries if e.kind == "note"]
    assert sum("salt 22 bytes, shown masked" in n for n in notes) == 2
    assert notes.count("the hash itself is masked on the page: not compared with the "
                       "password") == 2


def test_masked_salts_that_look_alike_are_not_called_shared() -> None:
    trace = shown(["abcdefXXXXXX", "abcdefYYYYYY"])  # the same first six: all the page shows
    assert any(e.text.startswith("that the two accounts' salts differ")
               for e in trace.entries if e.kind == "unverified")


def test_a_masked_hash_of_another_function_than_declared_fails() -> None:
    with pytest.raises(NonConformance, match="a pbkdf2_sha256 hash, not argon2id as declared"):
        shown([], password_hash="argon2id")
