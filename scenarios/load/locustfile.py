"""Locust users for `clinic2fa load`: virtual staff signing in with 6-digit and backup codes.

Run by `clinic2fa load` (headless, in a child process: importing Locust patches the standard
library with gevent), or by Locust itself, e.g. across machines:

    locust -f scenarios/load/locustfile.py Staff --master --headless --expect-workers 2 \
        --users 200 --spawn-rate 50 --run-time 60s --host http://127.0.0.1:8000
    locust -f scenarios/load/locustfile.py Staff --worker --master-host MASTER-ADDRESS

Every answer to a code is judged (`VERDICT` entries; a failure there is a wrong verdict) and
every completed sign-in is timed from the password to the signed-in answer (`FLOW` entries).

Virtual staff share accounts, `--c2f-share` of them each (a crowd): they sign in together and
send each code at once, so a check-then-act race in the deployment (two sign-ins accepting one
code) shows as wrong verdicts. Exactly one of them may sign in with a code.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import gevent
from gevent.event import Event
from locust import HttpUser, constant, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import LocalRunner, WorkerRunner
from locust.stats import RequestStats, StatsEntry, StatsError

from clinic2fa.scenarios.contract import Account
from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.load.staff import (
    LATENCY_ALLOWANCE,
    PERIOD,
    Attempt,
    Span,
    StaffMember,
    Verdict,
)
from clinic2fa.scenarios.targets import config as config_mod
from clinic2fa.scenarios.targets.traffic import may_flood, refusal

API = "/api/v1"
FLOW = "FLOW"  # a whole sign-in, password to signed in
VERDICT = "VERDICT"  # each judged answer to a code; a failure is a wrong verdict
ERROR = "ERROR"  # an answer the contract does not allow at that point
PROBE_EVERY = 5  # every 5th round first sends a code that must be refused
TIMEOUT = 60.0  # seconds per request
GATE_TIMEOUT = 600.0  # seconds a user waits for the others to finish setting up
log = logging.getLogger("clinic2fa.load")


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    parser.add_argument("--c2f-config", default="", help="target config (TOML): [[staff]] "
                        "accounts for a deployment, [target] hosts that may get load")
    parser.add_argument("--c2f-accounts", choices=["support", "config"], default="",
                        help="support: new accounts from test support (the reference); "
                             "config: the config's [[staff]] (default: config if given)")
    parser.add_argument("--c2f-clock", choices=["local", "support"], default="local",
                        help="local: this machine's clock plus --c2f-offset; support: ask "
                             "the reference's test-support clock (a fake clock)")
    parser.add_argument("--c2f-offset", type=float, default=0.0,
                        help="server time minus local time, seconds")
    parser.add_argument("--c2f-uncertainty", type=float, default=1.0,
                        help="how far off --c2f-offset may be, seconds")
    parser.add_argument("--c2f-summary", default="",
                        help="write the figures (JSON) here when the run ends")
    parser.add_argument("--c2f-share", type=int, default=1,
                        help="virtual staff per account, signing in at once (a crowd)")
    parser.add_argument("--c2f-duration", type=float, default=0.0,
                        help="seconds of sign-ins once every user has set up, then stop "
                             "(one process only; --run-time stays the upper bound)")


def _option(environment: Environment, name: str, default: Any) -> Any:
    return getattr(environment.parsed_options, name, default) or default


def _config(environment: Environment) -> config_mod.TargetConfig | None:
    path = _option(environment, "c2f_config", "")
    return config_mod.load(Path(path)) if path else None


@events.init.add_listener
def _refuse_other_hosts(environment: Environment, **_: Any) -> None:
    """Load goes to loopback or a host the config names: checked before any user starts."""
    try:
        config = _config(environment)
    except UsageError as exc:
        log.error("clinic2fa: %s", exc)
        raise SystemExit(2) from None
    if environment.host and not may_flood(environment.host, config):
        log.error("clinic2fa: %s", refusal(environment.host))
        raise SystemExit(2)


@events.quitting.add_listener
def _write_summary(environment: Environment, **_: Any) -> None:
    """The figures, from the master or the only process, before Locust clears its stats."""
    path = _option(environment, "c2f_summary", "")
    runner = environment.runner
    if path and runner is not None and not isinstance(runner, WorkerRunner):
        exceptions = [{"count": e["count"], "message": e["msg"]}
                      for e in runner.exceptions.values()]
        Path(path).write_text(json.dumps(summary(runner.stats, exceptions), indent=2),
                              encoding="utf-8")


def summary(stats: RequestStats, exceptions: list[dict[str, Any]]) -> dict[str, Any]:
    """Each entry's counts and percentiles, the HTTP requests after setup together, errors."""
    http = StatsEntry(stats, "HTTP requests after setup", "HTTP")
    for entry in stats.entries.values():
        if entry.method not in (FLOW, VERDICT, ERROR) and not entry.name.startswith("setup"):
            http.extend(entry)
    return {"entries": [_figures(e) for e in (*stats.entries.values(), http)],
            "errors": [_error(e) for e in stats.errors.values()],
            "exceptions": exceptions}


def _figures(entry: StatsEntry) -> dict[str, Any]:
    seconds = sorted(entry.num_reqs_per_sec)
    active = seconds[-1] - seconds[0] + 1 if seconds else 0
    return {"type": entry.method, "name": entry.name, "requests": entry.num_requests,
            "failures": entry.num_failures, "active_seconds": active,
            "per_second": round(entry.num_requests / active, 2) if active else 0.0,
            **{f"p{round(q * 100)}": entry.get_response_time_percentile(q)
               for q in (0.5, 0.95, 0.99)},
            "max": entry.max_response_time}


def _error(error: StatsError) -> dict[str, Any]:
    return {"type": error.method, "name": error.name,
            "error": StatsError.parse_error(error.error), "occurrences": error.occurrences}


_POOL: list[Account] | None = None  # the config's staff accounts, each for one crowd
_SET_UP = [0]  # users of this process that finished setting up (or gave up)
_GO = Event()  # every one of them has: sign-ins start, and are what the figures measure
CROWD_TIMEOUT = 120.0  # seconds a member waits for the rest of its crowd at one meeting


class Barrier:
    """Where the greenlets of one crowd meet; the last to arrive runs `last` before anyone
    goes on (gevent is cooperative: nothing yields inside it). A member that stops leaves."""

    def __init__(self, parties: int) -> None:
        self.parties = parties
        self._count = 0
        self._event = Event()
        self._last: Any = None

    def wait(self, last: Any = None) -> None:
        event = self._event
        self._count += 1
        self._last = last or self._last
        if self._count >= self.parties:
            self._release()
            return
        if not event.wait(timeout=CROWD_TIMEOUT):
            raise TimeoutError("the rest of the crowd did not come")

    def leave(self) -> None:
        self.parties = max(1, self.parties - 1)
        if self._count and self._count >= self.parties:
            self._release()

    def _release(self) -> None:
        event, last = self._event, self._last
        self._count, self._event, self._last = 0, Event(), None
        if last is not None:
            last()
        event.set()


@dataclass
class Crowd:
    """The virtual staff who share one account, and what one round of theirs sent."""

    size: int
    joined: int = 0
    member: StaffMember | None = None
    ready: Event = field(default_factory=Event)
    barrier: Barrier = field(init=False)
    rounds: int = 0
    probing: bool = False
    idle: bool = False
    attempt: Attempt | None = None
    answers: list[tuple[Any, bool | None, float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.barrier = Barrier(self.size)


_CROWDS: list[Crowd] = []


def _join(environment: Environment) -> tuple[Crowd, bool]:
    """The crowd this user belongs to, and whether it leads it (sets its account up)."""
    share = max(1, int(_option(environment, "c2f_share", 1)))
    runner = environment.runner
    total = runner.target_user_count if runner is not None else share
    if not _CROWDS or _CROWDS[-1].joined >= _CROWDS[-1].size:
        left = max(1, total - sum(c.size for c in _CROWDS))
        _CROWDS.append(Crowd(min(share, left)))
    crowd = _CROWDS[-1]
    crowd.joined += 1
    return crowd, crowd.joined == 1


def _set_up(environment: Environment) -> None:
    """Count one more user set up; the last one opens the gate (and starts the clock)."""
    _SET_UP[0] += 1
    runner = environment.runner
    if runner is None or _GO.is_set() or _SET_UP[0] < runner.target_user_count:
        return
    _GO.set()
    duration = float(_option(environment, "c2f_duration", 0.0))
    if duration and isinstance(runner, LocalRunner):
        gevent.spawn_later(duration, runner.quit)


def _take_account(environment: Environment) -> Account | None:
    global _POOL
    if _POOL is None:
        config = _config(environment)
        _POOL = list(config.staff) if config else []
    return _POOL.pop(0) if _POOL else None


def _json(response: Any) -> Any:
    try:
        return response.json() if response.content else None
    except ValueError:
        return None


class Staff(HttpUser):
    """One of a crowd of virtual staff sharing an account, signing in again and again.

    Each round every member enters the password, then all send the same code at once: a
    6-digit code only for a step never used and surely inside the window, otherwise the next
    backup code; exactly one may sign in. Every fifth round one member first sends a code that
    must be refused (spent, wrong or replaced). New backup codes are asked for (password again)
    by the round's winner when few are left.
    """

    wait_time = constant(0)
    crowd: Crowd | None = None
    leader = False
    session: str | None = None  # this member's pending, then signed-in, session in a round
    signed = False

    @property
    def member(self) -> StaffMember | None:
        return self.crowd.member if self.crowd else None

    # -- life ----------------------------------------------------------------------------------

    def on_start(self) -> None:
        if not may_flood(self.host or "", _config(self.environment)):
            self._error("setup", refusal(self.host or ""))
            raise StopUser()
        crowd, self.leader = _join(self.environment)
        self.crowd = crowd
        try:
            if self.leader:
                account = self._account()
                crowd.member = self._enrol(account) if account else None
                crowd.ready.set()
            else:
                crowd.ready.wait(timeout=GATE_TIMEOUT)
        finally:
            _set_up(self.environment)
        if crowd.member is None:
            raise StopUser()
        _GO.wait(timeout=GATE_TIMEOUT)  # setting up is not what is measured

    def on_stop(self) -> None:
        """Leave the crowd; its leader leaves a deployment's account as found: 2FA off."""
        if self.crowd is not None:
            self.crowd.barrier.leave()
        member = self.member
        if member is None or not self.leader or self._from_support():
            return
        session = self._teardown_sign_in(member)
        answer = self._post(f"{API}/security/disable", {"password": member.password},
                            session, "teardown: disable 2FA") if session else None
        if answer is None or answer[0] != 204:
            log.warning("clinic2fa: %s was left with 2FA on", member.email)

    @task
    def sign_in(self) -> None:
        crowd, member = self.crowd, self.member
        assert crowd is not None and member is not None
        try:
            self._round(crowd, member)
        except TimeoutError as exc:
            self._error("crowd", str(exc))
            raise StopUser() from None

    # -- one round of a crowd ------------------------------------------------------------------

    def _round(self, crowd: Crowd, member: StaffMember) -> None:
        crowd.barrier.wait(lambda: self._begin(crowd, member))
        if crowd.idle:  # no fresh step and no backup code: the next step brings one
            gevent.sleep(PERIOD - self._server_now() % PERIOD)
            return
        started = time.perf_counter()
        self.session, self.signed = self._password(member), False
        probed = crowd.probing
        if probed:  # one member sends a code that must be refused
            crowd.barrier.wait(lambda: self._choose(crowd, member.probe(self._span_ahead())))
            if self.leader:
                self._send(crowd)
            crowd.barrier.wait(lambda: self._settle(crowd, member))
        crowd.barrier.wait(lambda: self._choose(crowd, member.attempt(self._span_ahead())))
        if not self.signed:
            self._send(crowd)  # every member the same code, at once
        crowd.barrier.wait(lambda: self._settle(crowd, member))
        if self.signed and not probed:
            self._fire(FLOW, "full sign-in", (time.perf_counter() - started) * 1000)
        if self.signed and len(member.unspent) <= 2 and self.leader_of_round(crowd):
            self._regenerate(member)
        if self.session is not None:
            self._post(f"{API}/sign-out", None, self.session, "sign-out")

    def leader_of_round(self, crowd: Crowd) -> bool:
        """The first member the round's code signed in regenerates backup codes."""
        winners = [user for user, accepted, _, _ in crowd.answers if accepted]
        return bool(winners) and winners[0] is self

    def _begin(self, crowd: Crowd, member: StaffMember) -> None:
        crowd.rounds += 1
        crowd.probing = crowd.rounds % PROBE_EVERY == 0
        crowd.idle = member.attempt(self._span_ahead()) is None

    def _choose(self, crowd: Crowd, attempt: Attempt | None) -> None:
        crowd.attempt, crowd.answers = attempt, []

    def _send(self, crowd: Crowd) -> None:
        """Send the crowd's code from this member's session; the answer waits to be judged."""
        attempt = crowd.attempt
        if attempt is None or self.session is None:
            return
        path = f"{API}/sign-in/backup-code" if attempt.backup else f"{API}/sign-in/code"
        early = self._server_now()
        answer = self._post(path, {"code": attempt.code}, self.session,
                            f"second step: {'valid' if attempt.valid else 'refused'} "
                            f"{'backup code' if attempt.backup else '6-digit code'}")
        late = self._server_now()
        accepted = None if answer is None else answer[0] == 200
        if accepted:  # SESSION-NEW-TOKEN: carry on with the session the answer gives
            self.session = str(answer[1].get("session") or self.session)  # type: ignore[index]
            self.signed = True
        crowd.answers.append((self, accepted, early, late))

    def _settle(self, crowd: Crowd, member: StaffMember) -> None:
        """Judge the code the crowd sent, all answers together: one sign-in at most."""
        attempt, answers = crowd.attempt, crowd.answers
        if attempt is None or not answers:
            return
        span = self._span(min(a[2] for a in answers), max(a[3] for a in answers))
        for verdict in member.settle_many(attempt, [a[1] for a in answers], span):
            self._judge(attempt, verdict)

    # -- the steps -----------------------------------------------------------------------------

    def _password(self, member: StaffMember) -> str | None:
        """The password step; the pending session, or None (an error, counted)."""
        answer = self._post(f"{API}/sign-in", {"email": member.email,
                                               "password": member.password},
                            None, "sign-in: password")
        if answer is None:
            return None
        stage = answer[1].get("stage") or answer[1].get("error")
        if stage != "second_step":
            self._error("sign-in: password", f"expected the second step, got {stage}")
            return None
        return str(answer[1]["session"])

    def _regenerate(self, member: StaffMember) -> None:
        answer = self._post(f"{API}/security/backup-codes", {"password": member.password},
                            self.session, "backup codes: regenerate")
        if answer is None:
            member.new_backup_codes(None)
        elif answer[0] == 200:
            member.new_backup_codes(list(answer[1]["backup_codes"]))
        else:
            self._error("backup codes: regenerate", f"refused: {answer[1].get('error')}")

    def _teardown_sign_in(self, member: StaffMember) -> str | None:
        """A last sign-in, alone, to turn 2FA off again: not judged, not timed."""
        session = self._password(member)
        attempt = member.attempt(self._span_ahead())
        if session is None or attempt is None:
            return None
        path = f"{API}/sign-in/backup-code" if attempt.backup else f"{API}/sign-in/code"
        answer = self._post(path, {"code": attempt.code}, session, "teardown: sign-in")
        if answer is None or answer[0] != 200:
            return None
        return str(answer[1].get("session") or session)

    def _enrol(self, account: Account) -> StaffMember | None:
        """Set up the authenticator app (steps 1-5) and keep the secret and backup codes."""
        answer = self._post(f"{API}/sign-in", {"email": account.email,
                                               "password": account.password},
                            None, "setup: sign-in")
        data = answer[1] if answer else {}
        if data.get("stage") not in ("signed_in", "enrolment_required"):
            self._error("setup", f"{account.email} did not sign in without 2FA "
                                 f"({data.get('stage') or data.get('error')}): load needs "
                                 "staff accounts with 2FA off")
            return None
        session = str(data["session"])
        setup = self._post(f"{API}/security/authenticator", None, session, "setup: start")
        if setup is None or setup[0] != 200:
            self._error("setup", "the setup screen did not open")
            return None
        secret = parse_qs(urlsplit(setup[1]["uri"]).query)["secret"][0]
        member = StaffMember(account.email, account.password, secret, confirmed_step=-1)
        attempt = member.attempt(self._span_ahead())
        assert attempt is not None  # a new member has every step before it
        early = self._server_now()
        confirm = self._post(f"{API}/security/authenticator/confirm", {"code": attempt.code},
                             session, "setup: confirm")
        accepted = confirm is not None and confirm[0] == 200
        span = self._span(early, self._server_now())
        self._judge(attempt, member.settle(attempt, None if confirm is None else accepted, span))
        self._post(f"{API}/sign-out", None, session, "sign-out")
        if confirm is None or not accepted:
            return None
        member.unspent = list(confirm[1]["backup_codes"])
        return member

    def _account(self) -> Account | None:
        if not self._from_support():
            account = _take_account(self.environment)
            if account is None:
                self._error("setup", "the config's [[staff]] pool is used up: one account "
                                     "per virtual user")
            return account
        made = self._post("/test-support/users", {"role": "staff"}, None, "setup: new account")
        if made is None or made[0] != 201:
            self._error("setup", "test support made no account: is it `clinic2fa serve`?")
            return None
        return Account(made[1]["email"], made[1]["password"], "staff")

    def _from_support(self) -> bool:
        chosen = _option(self.environment, "c2f_accounts", "")
        return chosen == "support" or (not chosen and not _option(self.environment,
                                                                  "c2f_config", ""))

    # -- time ----------------------------------------------------------------------------------

    def _server_now(self) -> float:
        if _option(self.environment, "c2f_clock", "local") == "support":
            answer = self._get("/test-support/clock", "clock")
            if answer is not None:
                return float(answer["now"])
        return time.time() + float(_option(self.environment, "c2f_offset", 0.0))

    def _margin(self) -> float:
        if _option(self.environment, "c2f_clock", "local") == "support":
            return 0.0  # read from the server itself; a fake clock moves only when told
        return float(_option(self.environment, "c2f_uncertainty", 1.0))

    def _span(self, early: float, late: float) -> Span:
        return Span(early - self._margin(), late + self._margin())

    def _span_ahead(self) -> Span:
        """When the server may read a code sent now."""
        now = self._server_now()
        ahead = 0.0 if self._margin() == 0.0 else LATENCY_ALLOWANCE
        return self._span(now, now + ahead)

    # -- HTTP and events -----------------------------------------------------------------------

    def _post(self, url: str, body: Any, session: str | None,
              name: str) -> tuple[int, Any] | None:
        """(status, JSON) for any answer the contract allows (a refusal too); None otherwise."""
        headers = {"authorization": f"Bearer {session}"} if session else {}
        with self.client.post(url, json=body, headers=headers, name=name, timeout=TIMEOUT,
                              catch_response=True) as response:
            data = _json(response)
            if response.status_code == 204 or (200 <= response.status_code < 300
                                               and isinstance(data, dict)):
                response.success()
                return response.status_code, data or {}
            if 400 <= response.status_code < 500 and isinstance(data, dict) \
                    and isinstance(data.get("error"), str):
                response.success()  # a refusal in the contract's words is an answer
                return response.status_code, data
            response.failure(f"HTTP {response.status_code}: not an answer the contract allows")
            return None

    def _get(self, path: str, name: str) -> Any:
        with self.client.get(path, name=name, timeout=TIMEOUT, catch_response=True) as response:
            data = _json(response)
            if response.status_code == 200 and isinstance(data, dict):
                response.success()
                return data
            response.failure(f"HTTP {response.status_code}")
            return None

    def _judge(self, attempt: Attempt, verdict: Verdict | None) -> None:
        if verdict is None:
            return
        if verdict in (Verdict.VALID_REFUSED, Verdict.INVALID_ACCEPTED):
            self._fire(VERDICT, verdict.value, 0.0, AssertionError(attempt.what))
        elif verdict is Verdict.UNCERTAIN:
            self._fire(VERDICT, "uncertain: the window moved in flight", 0.0)
        else:
            self._fire(VERDICT, "valid code accepted" if attempt.valid
                       else "spent or wrong code refused", 0.0)

    def _error(self, name: str, message: str) -> None:
        self._fire(ERROR, name, 0.0, RuntimeError(message))

    def _fire(self, kind: str, name: str, milliseconds: float,
              exception: Exception | None = None) -> None:
        self.environment.events.request.fire(request_type=kind, name=name,
                                             response_time=milliseconds, response_length=0,
                                             exception=exception, context={})


class Healthz(HttpUser):
    """The same load on the app's most trivial endpoint: what the 2FA work itself costs."""

    wait_time = constant(0)

    @task
    def healthz(self) -> None:
        self.client.get("/healthz", name="healthz", timeout=TIMEOUT)
