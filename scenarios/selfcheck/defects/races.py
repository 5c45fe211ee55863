"""The `no-locking` seeded defect: the reference without its lock, every check-then-act held open
for a second request, so parallel requests race the rules that one at a time hold."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from clinic2fa.scenarios.selfcheck.defects.registry import defect
from clinic2fa.simulator import backup_codes, totp
from clinic2fa.simulator.audit import Event
from clinic2fa.simulator.clinic import (
    BackupCodes,
    Clinic,
    Session,
    Setup,
    SignIn,
    Stage,
    _locked,
)
from clinic2fa.simulator.errors import ErrorCode, Reason, TwoFactorError
from clinic2fa.simulator.hashing import POOL_THREADS
from clinic2fa.simulator.users import User


class _Inside:
    """Stands where the clinic's lock was: every caller goes straight in, and is counted, so a
    caller between its check and its act knows whether anyone else may race with it."""

    def __init__(self, cond: threading.Condition) -> None:
        self._cond = cond
        self._depth = threading.local()  # nested public calls of one thread count once
        self.callers = 0  # threads inside the clinic now
        self.last_entry = 0.0  # when a caller last came in (monotonic)

    def __enter__(self) -> None:
        depth = getattr(self._depth, "n", 0)
        self._depth.n = depth + 1
        if depth == 0:
            with self._cond:
                self.callers += 1
                self.last_entry = time.monotonic()
                self._cond.notify_all()  # a waiter's quiet spell is over

    def __exit__(self, *exc: object) -> None:
        self._depth.n -= 1
        if self._depth.n == 0:
            with self._cond:
                self.callers -= 1
                self._cond.notify_all()  # a waiter may now be the only one left inside


class _Group:
    """The callers between the same check and act at once: none acts until all have checked."""

    def __init__(self, now: float) -> None:
        self.first = self.last_join = now
        self.released = False


class _Rendezvous:
    """Holds a caller between its check and its act until the rest of its burst has checked
    too, so parallel requests all check before any acts: the race, every time.

    Callers for the same thing join one group; the group goes on together once every thread
    inside the clinic waits here and nobody has come into the clinic (or joined) for `grace`
    seconds (the rest of a burst may still be on its way: a loaded server lets requests in
    with gaps), and at the latest `patience` seconds after its first caller came. A caller
    alone in a process with no other thread (a sequential run in memory) goes on at once. So
    a sequential flow on this defect answers as the reference does, a little slower over HTTP,
    and is never stuck; and a burst the server lets in slowly is not split into callers that
    each act alone (the last of them would then act on what the others wrote: no race seen).
    """

    grace = 0.25  # seconds of nobody coming in before a group goes on (other threads)

    def __init__(self, patience: float) -> None:
        self.patience = patience
        self.meetings = 0  # callers that joined a waiting caller: proof of two inside at once
        self._cond = threading.Condition()
        self.inside = _Inside(self._cond)
        self._groups: dict[tuple[str, ...], _Group] = {}
        self._waiting = 0  # threads waiting here now

    def _alone(self) -> bool:
        """Nobody inside is on the way here: everyone inside already waits."""
        return self.inside.callers <= self._waiting

    def meet(self, *key: str) -> None:
        with self._cond:
            now = time.monotonic()
            group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = _Group(now)
            else:
                self.meetings += 1
                group.last_join = now
            self._waiting += 1
            self._cond.notify_all()  # the others may now all be waiting: let them see
            grace = 0.0 if not _other_callers() else min(self.grace, self.patience)
            deadline = group.first + self.patience
            try:
                while not group.released:
                    now = time.monotonic()
                    settled = max(group.last_join, self.inside.last_entry) + grace
                    if now >= deadline or (now >= settled and self._alone()):
                        group.released = True
                        if self._groups.get(key) is group:
                            del self._groups[key]
                        self._cond.notify_all()
                        break
                    self._cond.wait(timeout=max(0.0, (settled if now < settled else deadline)
                                                - now))
            finally:
                self._waiting -= 1


def _other_callers() -> bool:
    """Whether a thread besides this one could call the clinic (the hashing pool's cannot)."""
    me = threading.current_thread()
    return any(t is not me and not t.name.startswith(POOL_THREADS) for t in threading.enumerate())


def _uri_secret(uri: str) -> str:
    return parse_qs(urlsplit(uri).query)["secret"][0]


@defect("no-locking", ("BACKUP-SINGLE-USE", "TOTP-REPLAY", "TOTP-RATE-LIMIT", "SETUP-FRESH-SECRET",
                      "ADMIN-DISABLE-ENDS-SESSIONS"),
        "no lock around check-then-act: parallel requests spend one code twice, lose "
        "wrong-code counts, leave two setup secrets pending and open sessions an admin's reset "
        "does not end")
class NoLocking(Clinic):
    """The reference without its lock, each check-then-act step held open for a second request.

    One at a time it answers as the reference does; in parallel, every request that passed a
    check waits for the rest of its burst before it acts, so all act on what they checked.
    """

    patience = 3.0  # seconds a group between check and act waits at most for the rest

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gap = _Rendezvous(self.patience)
        self._lock = self.gap.inside  # type: ignore[assignment]
        self.pending_setups: dict[str, set[str]] = {}  # the defect's own: secrets pending

    def _accept_totp(self, user: User, secret: str, code: str) -> None:
        """TOTP-REPLAY: the last step is checked as read, and written after the meeting."""
        seen = replace(user)
        super()._accept_totp(seen, secret, code)
        self.gap.meet("totp", user.email)
        user.last_step = seen.last_step

    @_locked  # counted inside, so the rendezvous sees it
    def use_backup_code(self, token: str, code: str) -> SignIn:
        """BACKUP-SINGLE-USE: the code is found unspent, and marked spent after the meeting."""
        session, user = self._session(token, Stage.SECOND_STEP)
        self._check_lockout(user)
        seen = list(user.backup_hashes)
        if not backup_codes.spend(seen, code, self._hasher):
            refusal = TwoFactorError(ErrorCode.CODE_REJECTED, "That backup code is not valid.",
                                     Reason.WRONG_CODE)
            self._count_failure(user, refusal)
            raise refusal
        self.gap.meet("backup", user.email)
        user.backup_hashes = seen
        self._log(Event.BACKUP_CODE_USED, user.email, detail=f"{user.backup_codes_left} left")
        return self._pass_second_step(session, user, "backup code")

    def _end_sessions(self, email: str, keep: str | None = None) -> None:
        """ADMIN-DISABLE-ENDS-SESSIONS: the sessions are listed, and ended after the meeting;
        one a second step opened meanwhile goes on."""
        listed = [t for t, s in self._sessions.items() if s.email == email and t != keep]
        self.gap.meet("end", email)
        for token in listed:
            self._sessions.pop(token, None)  # renewed meanwhile: the new token stays

    def _renew(self, session: Session) -> Session:
        """A session ended meanwhile (checked before the meeting) goes on, renewed."""
        self._sessions.setdefault(session.token, session)
        return super()._renew(session)

    def _count_failure(self, user: User, refusal: TwoFactorError) -> None:
        """TOTP-RATE-LIMIT: the count is read, and written back plus one after the meeting."""
        seen = user.failures
        self.gap.meet("failures", user.email)
        user.failures = seen
        super()._count_failure(user, refusal)

    @_locked  # counted inside, so the rendezvous sees it
    def start_authenticator_setup(self, token: str) -> Setup:
        """SETUP-FRESH-SECRET: revokes the setups it saw pending, after the meeting: the other
        request's secret was not among them, so both stay valid."""
        _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
        pending = self.pending_setups.setdefault(user.email, set())
        seen = set(pending)
        setup = super().start_authenticator_setup(token)
        self.gap.meet("setup", user.email)
        pending.difference_update(seen)
        pending.add(_uri_secret(setup.uri))
        return setup

    @_locked  # counted inside, so the rendezvous sees it
    def confirm_authenticator(self, token: str, code: str) -> BackupCodes:
        """Any pending setup's secret confirms; without a match, the reference's refusal."""
        session, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
        pending = self.pending_setups.get(user.email, set())
        now = totp.step_of(self.clock.now(), self.params)
        secret = next((s for s in list(pending) if totp.match_step(
            s, "".join(code.split()), now, self.policy.window, self.params) is not None), None)
        if secret is None:
            return super().confirm_authenticator(token, code)
        if user.totp_secret is None:
            user.last_step = -1
        self._accept_totp(user, secret, code)
        pending.discard(secret)
        user.totp_secret, user.pending_secret = secret, None
        codes = self._new_backup_codes(user, self._fresh_backup_codes())
        renewed = None
        if session.stage is Stage.ENROLMENT:
            self._promote(session)
            renewed = self._renew(session).token
        self._log(Event.ENROLMENT_CONFIRMED, user.email)
        return BackupCodes(codes, renewed)
