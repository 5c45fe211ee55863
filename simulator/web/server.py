"""Serve the reference: `serve()` for `clinic2fa serve`, `running()` for tests and the harness."""

from __future__ import annotations

import copy
import functools
import ipaddress
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp

from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import Clock, FakeClock, SystemClock
from clinic2fa.simulator.hashing import Hasher
from clinic2fa.simulator.policy import HashCost, Policy
from clinic2fa.simulator.users import Role
from clinic2fa.simulator.web.app import create_app

LOCAL_NAMES = ("localhost", "127.0.0.1", "0.0.0.0", "::", "::1")  # noqa: S104 - names, not a bind


def is_loopback(host: str) -> bool:
    """Whether `host` listens on this machine only: localhost, 127.0.0.0/8 or ::1. Not
    0.0.0.0 or ::, which listen on every interface."""
    name = host.strip().lower().strip("[]")
    if name in ("localhost", "localhost.") or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class DemoAccount:
    email: str
    name: str
    role: Role
    password: str


def demo_accounts() -> list[DemoAccount]:
    """The demo clinic's people: an owner, an admin, two staff; fresh random passwords."""
    people = [("owner@clinic.test", "Olivia Hart", Role.OWNER),
              ("admin@clinic.test", "Adam Reyes", Role.ADMIN),
              ("staff1@clinic.test", "Sara Lin", Role.STAFF),
              ("staff2@clinic.test", "Tom Okafor", Role.STAFF)]
    return [DemoAccount(email, name, role, secrets.token_urlsafe(12))
            for email, name, role in people]


ClinicFactory = Callable[..., Clinic]  # takes Clinic's own keyword arguments, returns a clinic


def demo_clinic(accounts: list[DemoAccount], *, clock: Clock, origin: str, rp_id: str,
                policy: Policy | None = None, make_clinic: ClinicFactory = Clinic) -> Clinic:
    """The demo clinic with `accounts`, built by `make_clinic` (by default the reference).

    Another factory (a seeded defect's, from the harness) may keep passwords its own way, so
    its clinic hashes them itself; the reference takes hashes made once for every reset.
    """
    policy = policy or Policy()
    clinic = make_clinic(clock=clock, policy=policy, rp_id=rp_id, origin=origin)
    if make_clinic is Clinic:
        hashes = _password_hashes(tuple(accounts), policy.hash_cost)
        for person, password_hash in zip(accounts, hashes, strict=True):
            clinic.add_hashed_user(person.email, password_hash, person.role, person.name)
    else:
        for person in accounts:
            clinic.add_user(person.email, person.password, person.role, person.name)
    return clinic


def demo_app(accounts: list[DemoAccount], *, clock: Clock, origin: str, rp_id: str,
             policy: Policy | None = None, make_clinic: ClinicFactory = Clinic,
             threads: int | None = None, test_support: bool = True) -> FastAPI:
    """The web app `clinic2fa serve` runs: the demo clinic, with test support unless told
    otherwise, whose reset builds a fresh one with `make_clinic` (same people, clock and
    relying party); each test clinic of a parallel run starts as one without the people, on
    its own clock."""

    served = clock

    def fresh(clock: Clock = served) -> Clinic:
        """Another clock is a test clinic's (rooms.py): it starts with nobody, since its
        scenario makes the accounts it needs (and a defect's clinic would hash them anew)."""
        people = accounts if clock is served else []
        return demo_clinic(people, clock=clock, origin=origin, rp_id=rp_id, policy=policy,
                           make_clinic=make_clinic)

    return create_app(fresh(), test_support=test_support, fresh_clinic=fresh, threads=threads)


@functools.lru_cache(maxsize=8)
def _password_hashes(accounts: tuple[DemoAccount, ...], cost: HashCost) -> tuple[str, ...]:
    """The demo passwords' argon2id hashes, made once: every test-support reset rebuilds the
    clinic with the same people, and hashing them anew cost ~70 ms a reset."""
    return tuple(Hasher(cost).hash_many(person.password for person in accounts))


def public_origin(host: str, port: int) -> tuple[str, str]:
    """(origin, rp_id) a browser uses; WebAuthn refuses 127.0.0.1, so local means localhost."""
    name = "localhost" if host in LOCAL_NAMES else host
    return f"http://{name}:{port}", name


# uvicorn's 5 s default against a client's own 5 s expiry: a client whose thread waited for a
# core reused a connection the server had just closed ("connection reset by peer").
KEEP_ALIVE_SECONDS = 30


def listen(host: str = "localhost", port: int = 0) -> socket.socket:
    """A listening socket; port 0 picks a free one, known before the app (and its origin) exists."""
    sock = socket.create_server((host, port))
    # Accepted connections inherit this: without it each small response waits on Nagle (~40 ms).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.set_inheritable(True)
    return sock


class _NoQueryStrings(logging.Filter):
    """Access-log lines without query strings: no secret can ride in on a URL into a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def _log_config(log_file: Path | None) -> dict[str, Any]:
    """uvicorn's own logging, to the console or, with `log_file`, only to that file."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    if log_file is not None:
        for name, formatter in (("default", "default"), ("access", "access")):
            # delay: opened at the first line (uvicorn drops the access handler unused)
            config["handlers"][name] = {"formatter": formatter, "class": "logging.FileHandler",
                                        "filename": str(log_file), "encoding": "utf-8",
                                        "delay": True}
            config["formatters"][formatter]["use_colors"] = False
    return config


def _config(app: ASGIApp, *, log_level: str, access_log: bool,
            log_file: Path | None = None) -> uvicorn.Config:
    """uvicorn without its own Date (the app dates responses by the clinic's clock), keeping
    idle connections longer than a client on a loaded machine may take to reuse them."""
    config = uvicorn.Config(app, log_level=log_level, access_log=access_log, date_header=False,
                            server_header=False, lifespan="on", timeout_graceful_shutdown=2,
                            timeout_keep_alive=KEEP_ALIVE_SECONDS,
                            log_config=_log_config(log_file))
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _NoQueryStrings) for f in access.filters):  # once per process
        access.addFilter(_NoQueryStrings())
    return config


def serve(host: str = "localhost", port: int = 8000, *, make_clinic: ClinicFactory = Clinic,
          variant: str | None = None, fake_clock: bool = False, threads: int | None = None,
          log_level: str = "info", say: Callable[[str], None] | None = None,
          test_support: bool | None = None) -> int:
    """Run the demo clinic until interrupted; prints its URL, test support and accounts.

    Test support (accounts for anyone, a movable clock, stored hashes) is on only where
    nobody else can reach it: on a loopback `host`, unless `test_support` says otherwise
    (True: on anyway, as `--test-support` asks; False: off).

    `make_clinic` builds the clinic, at start and at each reset (default: the reference); the
    banner names a `variant` such as "defect totp-replay". `fake_clock` starts a FakeClock at
    the real time, which POST /test-support/clock moves; `threads` caps the worker threads (the
    clinic is one in-memory object behind a lock, so more processes would be more clinics:
    there is one process).
    """
    say = say or _say
    support = is_loopback(host) if test_support is None else test_support
    sock = listen(host, port)
    origin, rp_id = public_origin(host, sock.getsockname()[1])
    clock: Clock = FakeClock(time.time()) if fake_clock else SystemClock()
    accounts = demo_accounts()
    app = demo_app(accounts, clock=clock, origin=origin, rp_id=rp_id, make_clinic=make_clinic,
                   threads=threads, test_support=support)
    said = "test support on" if support else "test support off"
    if support and not is_loopback(host):
        said += f", although {host} is reachable from other machines (--test-support)"
    elif not support and test_support is None:
        said += f": {host} is reachable from other machines (--test-support turns it on)"
    say(f"clinic2fa reference clinic on {origin}  ({said}; "
        f"{'fake' if fake_clock else 'real'} clock{f'; {variant}' if variant else ''})")
    for person in accounts:
        say(f"  {person.role.value:<6} {person.email:<22} password: {person.password}")
    server = uvicorn.Server(_config(app, log_level=log_level, access_log=True))
    server.run(sockets=[sock])
    return 0


def _say(line: str) -> None:
    print(line, flush=True)  # flushed: a script reading the URL from a pipe sees it at once


@contextmanager
def running(app: ASGIApp, *, sock: socket.socket | None = None, host: str = "localhost",
            timeout: float = 10.0, log_level: str = "warning",
            log_file: Path | None = None) -> Iterator[str]:
    """Serve `app` in a background thread; yields its base URL, http://localhost:PORT.

    Pass `sock` (from listen()) when the app must know its port first, e.g. a passkey origin.
    Readiness: the socket already listens, so one GET /healthz simply waits to be answered.
    `log_file`: the server's log (tracebacks of requests cut off at shutdown) goes there.
    """
    sock = sock or listen(host)
    port = sock.getsockname()[1]
    base_url = f"http://{public_origin(host, port)[1]}:{port}"
    server = uvicorn.Server(_config(app, log_level=log_level, access_log=False,
                                    log_file=log_file))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name=f"clinic2fa-server-{port}", daemon=True)
    thread.start()
    try:
        _wait_ready(f"{base_url}/healthz", thread, timeout)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()
        if log_file is not None:
            _close_log(log_file)


def _close_log(log_file: Path) -> None:
    """Detach and close the handlers writing to `log_file`: the file is the caller's now."""
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if isinstance(handler, logging.FileHandler) and \
                    handler.baseFilename == os.path.abspath(log_file):
                logger.removeHandler(handler)
                handler.close()


def _wait_ready(url: str, thread: threading.Thread, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline and thread.is_alive():
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.HTTPError as exc:
                last = exc
    raise RuntimeError(f"the server at {url} did not become ready: {last!r}")
