"""A deployment over the HTTP contract (/api/v1), or the reference as `clinic2fa serve` runs it."""

from __future__ import annotations

import base64
import binascii
import copy
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from clinic2fa.scenarios.contract import (
    THROTTLED,
    Account,
    Answer,
    HookFailed,
    Needs,
    NotApplicable,
    Provider,
    Refused,
    Security,
    SetupScreen,
    SignInResult,
    Unreachable,
)
from clinic2fa.scenarios.core import parallel
from clinic2fa.scenarios.core.policy import Policy
from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.targets.accounts import AccountPool
from clinic2fa.scenarios.targets.clock import (
    DATE_RESOLUTION,
    ClockEstimate,
    Sample,
    date_seconds,
    estimate,
)
from clinic2fa.scenarios.targets.config import TargetConfig
from clinic2fa.scenarios.targets.traffic import may_flood
from clinic2fa.simulator.virtual.passkey import VirtualPasskey

API = "/api/v1"
SUPPORT = "/test-support"
ROOM_HEADER = "test-clinic"  # names the scenario's test clinic (simulator/web/rooms.py)
CLOCK_SAMPLES = 5
_SECURITY_FIELDS = ("two_factor_enabled", "authenticator_app", "backup_codes_left", "passkeys",
                    "enforcement_required")
UNSHOWN_HEADERS = frozenset({"set-cookie", "authorization", "cookie"})  # credentials: not kept


def answer_of(response: httpx.Response, body: Any = None) -> Answer:
    """The status and headers of an answer, credentials left out."""
    headers = {k.lower(): v for k, v in response.headers.items()
               if k.lower() not in UNSHOWN_HEADERS}
    return Answer(response.status_code, headers, body, response.elapsed.total_seconds())


class ProtocolError(Exception):
    """The target answered outside the contract (a 500, no JSON): an error, not a verdict."""


def _why(exc: httpx.TransportError) -> str:
    """"connection refused" rather than "[Errno 111] Connection refused"."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    text = str(exc) or type(exc).__name__
    if "] " in text and text.startswith("[Errno"):
        text = text.split("] ", 1)[1]
    return text[:1].lower() + text[1:]


class Wire:
    """httpcore's trace hook: when the request's last byte left and the answer's head came, by
    `clock` (the monotonic one; a browser's burst takes the wall clock its pages read)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.sent = 0.0
        self.answered = 0.0
        self._clock = clock

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        if event.endswith("send_request_body.complete"):
            self.sent = self._clock()
        elif event.endswith("receive_response_headers.complete"):
            self.answered = self._clock()


# Seconds an idle connection is reused: well inside the keep-alive of common servers (uvicorn
# 5 s, gunicorn 2 s), measured from when this client read the answer, which on a loaded
# machine is later than when the server sent it. A connection the server closed meanwhile
# resets the next request, which is then lost as if the target had stopped answering.
KEEPALIVE_EXPIRY = 1.0


class Client:
    """JSON over HTTP with the contract's refusals; a dead connection is `Unreachable`."""

    def __init__(self, base_url: str, timeout: float, name: str = "",
                 transport: httpx.BaseTransport | None = None) -> None:
        self.name = name or base_url  # as messages show it
        self.timeout = timeout
        self.silent = False  # the last request got no answer: is the target still there?
        self.headers: dict[str, str] = {}  # sent with every request (a test clinic's name)
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport,
                                  headers={"accept": "application/json"},
                                  limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY))
        self._owns = True  # closing closes the connections (a view's owner does)
        self.last: httpx.Response | None = None  # the last answer, for Needs.HTTP

    def view(self, headers: dict[str, str] | None = None) -> Client:
        """A client for one scenario on the same connections (thread-safe), with a last answer
        and a silence of its own, and `headers` on each of its requests."""
        scoped = copy.copy(self)
        scoped.headers = {**self.headers, **(headers or {})}
        scoped.silent, scoped.last, scoped._owns = False, None, False
        return scoped

    def close(self) -> None:
        if self._owns:
            self._http.close()

    def send(self, method: str, path: str, body: Any = None,
             session: str | None = None) -> httpx.Response:
        headers = {**self.headers, "authorization": f"Bearer {session}"} if session \
            else self.headers
        wire = Wire() if parallel.recording() else None  # a race's request: its moments
        try:
            response = self._http.request(method, path, json=body, headers=headers,
                                          extensions={"trace": wire} if wire else None)
        except httpx.TransportError as exc:
            self.silent = True
            why = _why(exc)
            if isinstance(exc, httpx.TimeoutException):  # which request, how long it waited
                why = f"{method} {path.split('?')[0]}: no answer within {self.timeout:g} s"
            raise Unreachable(f"target {self.name} unreachable: {why}") from None
        self.silent = False
        if wire is not None and wire.sent and wire.answered:
            parallel.exchanged(wire.sent, wire.answered)
        self.last = response
        return response

    def send_raw(self, method: str, path: str, body: bytes,
                 headers: dict[str, str]) -> httpx.Response:
        """A request the harness shaped itself, its body sent as it is."""
        try:
            self.last = self._http.request(method, path, content=body,
                                           headers={**self.headers, **headers})
        except httpx.TransportError as exc:
            raise Unreachable(f"target {self.name} unreachable: {_why(exc)}") from None
        return self.last

    def call(self, method: str, path: str, body: Any = None, session: str | None = None) -> Any:
        """The JSON answer (None for an empty one); a refusal raises `Refused`.

        HTTP 429 is a throttle whatever its body says: code locked_out, with the Retry-After.
        """
        response = self.send(method, path, body, session)
        data = _json(response)
        if response.is_success:
            return data
        error = data.get("error") if isinstance(data, dict) else None
        if response.status_code == 429:
            said = data if isinstance(data, dict) else {}
            raise Refused(THROTTLED, said.get("reason"), str(said.get("message", "")) or
                          "HTTP 429 Too Many Requests", retry_after(response))
        if response.status_code < 500 and isinstance(error, str):
            raise Refused(error, data.get("reason"), str(data.get("message", "")),
                          retry_after(response) if error == THROTTLED else None)
        what = "a server error" if response.status_code >= 500 else "no contract error body"
        raise ProtocolError(f"{method} {path}: HTTP {response.status_code}, {what}")


def retry_after(response: httpx.Response) -> float | None:
    """The Retry-After header in seconds (a number or an HTTP date), None without one."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    when = date_seconds(value)
    return max(when - time.time(), 0.0) if when is not None else None


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


class HttpTarget:
    """The Target interface over the HTTP contract, for one scenario, with a client of its own
    (its last answer is its own when scenarios run at once) and, on the reference, a test
    clinic of its own (`room`)."""

    def __init__(self, provider: HttpProvider, client: Client, room: str | None = None) -> None:
        self.name = provider.name
        self.origin = provider.origin  # the page origin passkeys are made for
        self.capabilities = provider.capabilities
        self.room = room
        self._provider = provider
        self._client = client
        self._tokens: dict[str, str] = {}  # a session handle -> its token now, if renewed
        self._replays = 0

    # sessions: a handle follows its client's token (SESSION-NEW-TOKEN)

    def _t(self, session: str) -> str:
        return self._tokens.get(session, session)

    def _follow(self, session: str, data: Any) -> None:
        """The answer gave the client a new token for this session: carry on with it."""
        token = data.get("session") if isinstance(data, dict) else None
        if isinstance(token, str) and token and token != self._t(session):
            self._tokens[session] = token

    def session_credentials(self, session: str) -> tuple[str, ...]:
        return (self._t(session),)

    def replay_session(self, credentials: tuple[str, ...]) -> str:
        self._replays += 1
        handle = f"replayed-{self._replays}"
        self._tokens[handle] = credentials[0] if credentials else ""
        return handle

    # the HTTP answers themselves (Needs.HTTP)

    def last_answer(self, session: str | None = None) -> Answer | None:
        last = self._client.last
        return None if last is None else answer_of(last)

    def send_raw(self, method: str, path: str, body: bytes,
                 headers: dict[str, str]) -> Answer:
        response = self._client.send_raw(method, path, body, headers)
        return answer_of(response, _json(response))

    # accounts and time

    def account(self, role: str) -> Account:
        if not self._provider.reference:
            return self._provider.pool.lend(role, self, self.server_time)
        made = self._client.call("POST", f"{SUPPORT}/users", {"role": role})
        return Account(made["email"], made["password"], made.get("role", role))

    def server_time(self) -> float:
        if self._provider.reference:  # this scenario's clinic's clock
            return float(self._client.call("GET", f"{SUPPORT}/clock")["now"])
        return self._provider.server_time()

    @property
    def headers(self) -> dict[str, str]:
        """What every request of this scenario carries (its test clinic's name): the browser
        target's contexts send it too."""
        return self._client.headers

    @property
    def silent(self) -> bool:
        """Its last request got no answer."""
        return self._client.silent

    def close(self) -> None:
        self._client.close()

    def stored_credentials(self, email: str) -> dict[str, Any]:
        if Needs.INSPECT not in self.capabilities:
            raise NotApplicable("the target does not lay open what it stores")
        data = self._client.call("GET", f"{SUPPORT}/users/{quote(email, safe='')}/stored")
        return dict(data) if isinstance(data, dict) else {}

    def stored_password(self, session: str, email: str) -> str | None:
        """From test support's store (the session is not asked: the store shows it whole)."""
        return self.stored_credentials(email).get("password")

    def audit_log(self) -> list[dict[str, Any]]:
        if Needs.INSPECT not in self.capabilities:
            raise NotApplicable("the target does not lay open its audit log")
        data = self._client.call("GET", f"{SUPPORT}/audit")
        return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []

    def advance_clock(self, seconds: float) -> None:
        if Needs.CLOCK not in self.capabilities:
            raise NotApplicable("the target's clock cannot be moved")
        self._client.call("POST", f"{SUPPORT}/clock", {"advance": seconds})

    def new_passkey(self, **flags: Any) -> VirtualPasskey:
        """A virtual passkey for the pages' origin."""
        return VirtualPasskey(self.origin, **flags)

    # sign-in

    def sign_in(self, email: str, password: str) -> SignInResult:
        return _signed(self._client.call("POST", f"{API}/sign-in",
                                         {"email": email, "password": password}), None)

    def _second_step(self, session: str, path: str, body: Any) -> SignInResult:
        data = self._client.call("POST", path, body, self._t(session))
        result = _signed(data, session)
        self._follow(session, data)
        return SignInResult(session, result.stage)

    def enter_code(self, session: str, code: str) -> SignInResult:
        return self._second_step(session, f"{API}/sign-in/code", {"code": code})

    def use_backup_code(self, session: str, code: str) -> SignInResult:
        return self._second_step(session, f"{API}/sign-in/backup-code", {"code": code})

    def sign_out(self, session: str) -> None:
        self._client.call("POST", f"{API}/sign-out", None, self._t(session))

    def profile(self, session: str) -> dict[str, Any]:
        return dict(self._client.call("GET", f"{API}/profile", None, self._t(session)))

    # Security settings

    def security(self, session: str) -> Security:
        data = self._client.call("GET", f"{API}/security", None, self._t(session))
        if not isinstance(data, dict) or not all(k in data for k in _SECURITY_FIELDS):
            raise ProtocolError(f"GET {API}/security: the answer lacks the contract's fields")
        return Security(bool(data["two_factor_enabled"]), bool(data["authenticator_app"]),
                        int(data["backup_codes_left"]), tuple(data["passkeys"]),
                        bool(data["enforcement_required"]),
                        {k: v for k, v in data.items() if k not in _SECURITY_FIELDS})

    def start_authenticator_setup(self, session: str) -> SetupScreen:
        data = self._client.call("POST", f"{API}/security/authenticator", None,
                                 self._t(session))
        try:
            png = base64.b64decode(data["qr_png"], validate=True)
        except (KeyError, TypeError, binascii.Error):
            raise ProtocolError("the setup screen's qr_png is not base64") from None
        svg = data.get("qr_svg")
        return SetupScreen(data["uri"], data["manual_entry"], png,
                           svg if isinstance(svg, str) else None)

    def confirm_enrolment(self, session: str, code: str) -> list[str]:
        data = self._client.call("POST", f"{API}/security/authenticator/confirm",
                                 {"code": code}, self._t(session))
        self._follow(session, data)
        return list(data["backup_codes"])

    def regenerate_backup_codes(self, session: str, password: str) -> list[str]:
        data = self._client.call("POST", f"{API}/security/backup-codes",
                                 {"password": password}, self._t(session))
        return list(data["backup_codes"])

    def disable_2fa(self, session: str, password: str) -> None:
        self._client.call("POST", f"{API}/security/disable", {"password": password},
                          self._t(session))

    # owner and admin

    def set_enforcement(self, session: str, required: bool) -> None:
        self._client.call("PUT", f"{API}/settings/security/enforcement", {"required": required},
                          self._t(session))

    def staff(self, session: str) -> list[dict[str, Any]]:
        data = self._client.call("GET", f"{API}/settings/staff", None, self._t(session))
        return list(data["staff"] if isinstance(data, dict) else data)

    def disable_2fa_for(self, session: str, email: str) -> None:
        self._client.call("POST", f"{API}/settings/staff/{quote(email, safe='@')}/disable-2fa",
                          None, self._t(session))

    # passkeys

    def begin_passkey_setup(self, session: str) -> dict[str, Any]:
        return dict(self._client.call("POST", f"{API}/security/passkeys/options", None,
                                      self._t(session)))

    def finish_passkey_setup(self, session: str, credential: dict[str, Any],
                             name: str) -> list[str]:
        answer = self._client.call("POST", f"{API}/security/passkeys",
                                   {"credential": credential, "name": name}, self._t(session))
        self._follow(session, answer)
        return list(answer.get("backup_codes", [])) if isinstance(answer, dict) else []

    def begin_passkey_sign_in(self, session: str) -> dict[str, Any]:
        return dict(self._client.call("POST", f"{API}/sign-in/passkey/options", None,
                                      self._t(session)))

    def finish_passkey_sign_in(self, session: str, credential: dict[str, Any]) -> SignInResult:
        return self._second_step(session, f"{API}/sign-in/passkey", {"credential": credential})

    def remove_passkey(self, session: str, name: str, password: str) -> None:
        self._client.call("POST", f"{API}/security/passkeys/remove",
                          {"name": name, "password": password}, self._t(session))


def _signed(data: Any, session: str | None) -> SignInResult:
    if not isinstance(data, dict) or "stage" not in data or not (data.get("session") or session):
        raise ProtocolError("a sign-in answer without session and stage")
    return SignInResult(str(data.get("session") or session), str(data["stage"]))


class HttpProvider(Provider):
    """One deployment for the whole run: checked once, its clock measured, its accounts pooled."""

    kind = "http"

    def __init__(self, base_url: str, config: TargetConfig | None, name: str = "", *,
                 contract: bool = True) -> None:
        """`contract`: the deployment must speak /api/v1 (False: only accounts and the clock
        are wanted from it, as the browser target wants)."""
        self.name = name or base_url  # without any user:password@
        self.contract = contract
        self.config = config or TargetConfig()
        self.origin = self.config.origin or page_origin(self.name)
        self.capabilities: frozenset[Needs] = frozenset()
        self.reference = False
        self.pool = AccountPool(self.config)
        self.client = Client(base_url, self.config.timeout, self.name)
        self._clock: ClockEstimate | None = None
        self._support = False  # test-support endpoints answer
        self._rooms = False  # test support opens a clinic of its own for each scenario

    # -- opening: reachability, clock, test support, safety ----------------------------------

    def open(self) -> None:
        first = self.client.send("GET", f"{API}/profile")  # reachable? and the contract?
        if self.contract:
            self._check_contract(first)
        samples = [self._sample() for _ in range(CLOCK_SAMPLES)]
        self._support = self._has_test_support()
        if self.config.reference and not self._support:
            raise UsageError(f"the config says {self.name} is the reference, but it has no "
                             f"test-support endpoints ({SUPPORT}/clock): is it `clinic2fa serve`?")
        self.reference = self._support
        if not self.reference and not self.config.test_clinic:
            raise UsageError(
                f"refusing to run against {self.name}: scenarios enforce 2FA and lock accounts "
                "out, so a deployment's config (--config) must declare "
                "[clinic] test_clinic = true")
        if self.pool.can_reset and not self.reference:
            try:
                self.pool.reset()  # start from the seeded clinic: the hook's failure is exit 2
            except HookFailed as exc:
                raise UsageError(str(exc)) from None
        needs = {Needs.SESSIONS, Needs.HTTP}  # the harness is the client: it sees both
        if self._support and self._clock_movable():
            needs.add(Needs.CLOCK)
        passkeys = self.config.passkeys
        if passkeys if passkeys is not None else self._has_passkeys():
            needs.add(Needs.PASSKEYS)
        if self._support and self._inspectable():
            needs |= {Needs.INSPECT, Needs.PASSWORD_STORE}
        self._rooms = self._support and self._has_rooms()
        if may_flood(self.name, self.config):  # race scenarios: loopback or a named host only
            needs.add(Needs.PARALLEL)
        self.capabilities = frozenset(needs)
        self._clock = self._support_clock() if self._support else \
            estimate(samples, "date-header", DATE_RESOLUTION)

    def _check_contract(self, response: httpx.Response) -> None:
        """A contract deployment refuses an anonymous GET /api/v1/profile with its JSON error."""
        data = _json(response)
        if response.status_code == 401 and isinstance(data, dict) \
                and isinstance(data.get("error"), str):
            return
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        raise UsageError(
            f"{self.name} does not speak the clinic2fa HTTP contract (GET {API}/profile answered "
            f"HTTP {response.status_code}, {kind}, not the contract's JSON refusal); to check "
            f"a deployment through its web pages use --target browser+{self.name}")

    def _sample(self) -> Sample:
        sent = time.time()
        response = self.client.send("GET", f"{API}/profile")
        received = time.time()
        server = date_seconds(response.headers.get("date"))
        return Sample(sent, received, server if server is not None else (sent + received) / 2)

    def _has_test_support(self) -> bool:
        response = self.client.send("GET", f"{SUPPORT}/clock")
        data = _json(response)
        return response.status_code == 200 and isinstance(data, dict) and "now" in data

    def _clock_movable(self) -> bool:
        """A fake clock takes `advance: 0`; the real clock answers 409."""
        return self.client.send("POST", f"{SUPPORT}/clock", {"advance": 0}).status_code == 200

    def _inspectable(self) -> bool:
        """Test support lays open the audit log (and, with it, the stored credentials)."""
        response = self.client.send("GET", f"{SUPPORT}/audit")
        return response.status_code == 200 and isinstance(_json(response), list)

    def _has_rooms(self) -> bool:
        """Test support opens test clinics (simulator/web/rooms.py): one tried and closed."""
        opened = self.client.send("POST", f"{SUPPORT}/clinics")
        name = _json(opened).get("clinic") if opened.status_code == 201 and \
            isinstance(_json(opened), dict) else None
        if not isinstance(name, str):
            return False
        return self.client.send("DELETE", f"{SUPPORT}/clinics/{quote(name, safe='')}") \
            .status_code == 204

    def _has_passkeys(self) -> bool:
        """The passkey endpoints exist: an unauthenticated call is refused, not "no such path"."""
        status = self.client.send("POST", f"{API}/sign-in/passkey/options").status_code
        return status not in (404, 405, 501)

    def _support_clock(self) -> ClockEstimate | None:
        samples = []
        for _ in range(CLOCK_SAMPLES):
            sent = time.time()
            now = self.client.call("GET", f"{SUPPORT}/clock")["now"]
            samples.append(Sample(sent, time.time(), float(now)))
        return estimate(samples, "test-support", 0.0)

    # -- per run and per scenario --------------------------------------------------------------

    def server_time(self) -> float:
        """The reference's clock asked each time (a fake one moves only when told); otherwise
        local time plus the measured offset: never a sleep."""
        if self._support:
            return float(self.client.call("GET", f"{SUPPORT}/clock")["now"])
        return time.time() + (self._clock.offset_seconds if self._clock else 0.0)

    def target(self) -> HttpTarget:
        """A scenario's target; Unreachable (the run ends) if the deployment is gone.

        On the reference, a clean clinic, as memory gives: a test clinic of its own, which no
        scenario running beside it reaches (else the one clinic, reset)."""
        room = None
        if self._rooms:
            room = str(self.client.call("POST", f"{SUPPORT}/clinics")["clinic"])
        elif self.reference:
            self.client.call("POST", f"{SUPPORT}/reset")
        elif self.client.silent:  # the last scenario lost it: back, or the run ends here
            self.client.send("GET", f"{API}/profile")
        return HttpTarget(self, self.client.view({ROOM_HEADER: room} if room else None), room)

    def release(self, target: Any) -> None:
        """The scenario is over: its accounts (already put back) may go to the next one, its
        test clinic is closed."""
        self.pool.give_back(target)
        target.close()
        self.client.silent = self.client.silent or target.silent  # the next one checks first
        if target.room is not None and not target.silent:
            try:
                self.client.send("DELETE", f"{SUPPORT}/clinics/{quote(target.room, safe='')}")
            except Unreachable:
                self.client.silent = True  # the next scenario finds out, as in a serial run

    def max_jobs(self) -> int | None:
        """The reference with test clinics: any number (each scenario has its own clinic and
        clock). A deployment: what its config allows ([target] jobs, default 1)."""
        return None if self._rooms else self.config.jobs

    def reset_hook(self) -> Callable[[], None] | None:
        return self.pool.reset if self.pool.can_reset else None

    def close(self) -> None:
        self.client.close()

    def clock(self) -> ClockEstimate | None:
        return self._clock

    def secrets(self) -> set[str]:
        return self.config.passwords

    def policy(self) -> Policy:
        return self.config.policy

    @property
    def max_wait(self) -> float:  # type: ignore[override]
        return self.config.max_wait


LOOPBACK = ("127.0.0.1", "::1", "[::1]")


def page_origin(url: str) -> str:
    """scheme://host[:port] of the pages; a loopback IP reads as localhost, as WebAuthn wants."""
    parts = urlsplit(url)
    host = "localhost" if parts.hostname in LOOPBACK else parts.hostname
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}"


def provider(target: str, config: TargetConfig | None, *, contract: bool = True
             ) -> HttpProvider:
    """The `http` and `https` schemes: http://HOST:PORT[/PATH]."""
    parts = urlsplit(target)
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise UsageError(f"bad target URL {target!r}: the port is not a number") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment:
        raise UsageError(f"bad target URL {target!r}: expected http://HOST:PORT or https://HOST")
    base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    shown = base.replace(f"{parts.netloc}", parts.netloc.rpartition("@")[2], 1)
    return HttpProvider(base, config, shown, contract=contract)
