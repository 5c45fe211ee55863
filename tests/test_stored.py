"""The storage checks' own parts: argon2id PHC strings parsed, matched, and plain text found."""

from __future__ import annotations

import hashlib

import pytest
from argon2 import PasswordHasher, Type

from clinic2fa.scenarios.core import stored

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)


def test_an_argon2id_hash_is_read_with_its_cost_and_salt() -> None:
    found = stored.parse(FAST.hash("correct horse"))
    assert found == stored.Argon2Hash(memory_kib=8, time_cost=1, parallelism=1,
                                      salt=found.salt if found else b"")
    assert found is not None and len(found.salt) == 16


@pytest.mark.parametrize("value", [
    None, "", "correct horse", hashlib.sha256(b"correct horse").hexdigest(),
    PasswordHasher(type=Type.I, memory_cost=8, time_cost=1, parallelism=1).hash("x"),  # argon2i
    "$2b$12$KIXQJQzrjvJ1b5y8r1R0OeC1bXh9vO2n0bW5r9J9xQ0qYb0Yb0Yb0",  # bcrypt
    "$argon2id$v=19$m=8,t=1,p=1$not*base64$abc",
    "$argon2id$v=19$m=8,t=1$c2FsdHNhbHQ$aGFzaA",  # no parallelism
], ids=["none", "empty", "plain", "sha256", "argon2i", "bcrypt", "bad-salt", "missing-p"])
def test_anything_else_is_not_an_argon2id_hash(value: object) -> None:
    assert stored.parse(value) is None


def test_a_hash_matches_its_secret_only() -> None:
    kept = FAST.hash("abcde12345")
    assert stored.matches(kept, "abcde12345")
    assert not stored.matches(kept, "abcde12346")
    assert not stored.matches("abcde12345", "abcde12345")  # plain text is no hash of itself


def test_a_backup_code_has_three_spellings_in_a_fixed_order() -> None:
    assert stored.spellings("abcde-12345") == ["abcde12345", "abcde-12345", "ABCDE12345"]
    assert len(stored.spellings("01234-56789")) == 3


@pytest.mark.parametrize(("value", "secret", "found"), [
    ("pw=s3cret-pass", "s3cret-pass", True),
    ("code ABCDE12345 used", "abcde-12345", True),  # another spelling of the same code
    ("9 left", "abcde-12345", False),
    (FAST.hash("abcde12345"), "abcde-12345", False),
], ids=["in-a-text", "another-spelling", "absent", "its-hash"])  # a hash's salt: every collection
def test_plain_text_is_found_in_any_spelling(value: str, secret: str, found: bool) -> None:
    assert stored.plain(value, secret) is found


def test_mentioned_names_each_secret_found_in_any_text_never_across_two() -> None:
    texts = ["backup_code_used staff1@clinic.test 9 left", "detail abcde", "12345 more"]
    assert stored.mentioned(texts, ["9 left", "abcde-12345", "zzzzz-zzzzz"]) == ["9 left"]
    assert stored.mentioned([*texts, "code ABCDE-12345"], ["abcde-12345"]) == ["abcde-12345"]
