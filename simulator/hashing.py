"""argon2id hashing of passwords and backup codes (PASSWORD-HASH, BACKUP-HASHED).

Every argon2 computation runs in one shared pool with a thread per core. argon2-cffi releases
the GIL, so a batch (ten backup codes) hashes on every core at once; and since the clinic hashes
outside its lock, the pool also caps how many run together, so 64 parallel requests allocate
at most cores x memory_cost, not 64 x.

A backup-code use verifies one hash, not up to ten: each code hashed with hash_many also gets
a one-byte tag, HMAC-SHA256 of the code under a key that exists only in this process, and a use
verifies only the hashes whose tag its code shares (a wrong code: the same work against a hash
of nobody's). The kept records stay salted argon2id hashes (NIST SP 800-63B 5.1.2.2: a
look-up secret under 112 bits is stored with a salted, costly one-way function); a tag is not
kept with them, and with its key would narrow a 50-bit code by 8 bits at most.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import ClassVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from clinic2fa.simulator.policy import HashCost

POOL_THREADS = "argon2"  # the pool's thread names start so: they never call into a clinic
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _workers() -> ThreadPoolExecutor:
    """The shared pool, started on first use (no threads for a process that never hashes)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1,
                                       thread_name_prefix=POOL_THREADS)
        return _pool


def _forget_pool() -> None:
    """A forked child has none of the parent's threads: it starts its own pool when it hashes."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


@functools.lru_cache(maxsize=8)
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int) -> str:
    """A hash of a random secret nobody knows, made once per cost for verify_nothing()."""
    ph = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism,
                        type=Type.ID)
    return ph.hash(secrets.token_urlsafe(24))


class Hasher:
    """Salted argon2id hashes; verification is constant-time inside argon2."""

    # The private names the harness's storage defects may use (see Clinic.SEAMS); they override
    # the public hash, hash_many, verify and first_match.
    SEAMS: ClassVar[tuple[str, ...]] = (
        "_ph",  # argon2-cffi's hasher: shared-salt hashes with it, one salt for all
    )

    TAGS_KEPT = 65_536  # past it the oldest tag goes, and its hash is verified like any other

    def __init__(self, cost: HashCost) -> None:
        self._ph = PasswordHasher(time_cost=cost.time_cost, memory_cost=cost.memory_cost,
                                  parallelism=cost.parallelism, type=Type.ID)
        self._tag_key = secrets.token_bytes(32)
        self._tags: OrderedDict[str, int] = OrderedDict()  # a hash -> its secret's tag
        self._tags_lock = threading.Lock()

    def _tag(self, secret: str) -> int:
        return hmac.digest(self._tag_key, secret.encode(), hashlib.sha256)[0]

    def hash(self, secret: str) -> str:
        return _workers().submit(self._ph.hash, secret).result()

    def hash_many(self, secrets: Iterable[str]) -> list[str]:
        """One hash per secret, in order, computed in parallel on every core; each tagged, so
        first_match verifies only the hashes a candidate may match."""
        given = list(secrets)
        made = list(_workers().map(self._ph.hash, given))
        with self._tags_lock:
            for secret, hashed in zip(given, made, strict=True):
                self._tags[hashed] = self._tag(secret)
            while len(self._tags) > self.TAGS_KEPT:
                self._tags.popitem(last=False)
        return made

    def verify(self, stored: str, candidate: str) -> bool:
        return _workers().submit(self._verify, stored, candidate).result()

    def verify_nothing(self, candidate: str) -> bool:
        """The work of verify() against a hash of this cost, for an email with no account
        (SIGNIN-NO-ENUMERATION): a sign-in takes as long whether or not the account exists.
        Always False."""
        ph = self._ph
        self.verify(_dummy_hash(ph.time_cost, ph.memory_cost, ph.parallelism), candidate)
        return False

    def first_match(self, stored: Sequence[str | None], candidate: str) -> int | None:
        """The index of a hash in `stored` that `candidate` matches; None entries are skipped.

        Only hashes whose tag the candidate shares (or whose tag is unknown) are verified: one
        verification a use, usually; none share it, and a hash of nobody's is verified instead,
        so a wrong code costs what a right one does. Several are checked in parallel; once one
        matches, checks not yet started are cancelled.
        """
        tag = self._tag(candidate)
        with self._tags_lock:
            maybe = [(i, h) for i, h in enumerate(stored)
                     if h is not None and self._tags.get(h, tag) == tag]
        if not maybe:
            self.verify_nothing(candidate)
            return None
        pending: dict[Future[bool], int] = {
            _workers().submit(self._verify, h, candidate): i for i, h in maybe}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    index = pending.pop(future)
                    if future.result():
                        return index
            return None
        finally:
            for future in pending:
                future.cancel()

    def _verify(self, stored: str, candidate: str) -> bool:
        try:
            return self._ph.verify(stored, candidate)
        except (VerificationError, InvalidHashError):
            return False
