"""Symbolic actions made concrete on one side (its own phones, codes and passkeys) and observed."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from clinic2fa.scenarios.contract import Account, Refused, SetupScreen
from clinic2fa.scenarios.core import params, stored
from clinic2fa.simulator.virtual.authenticator_app import Account as AppAccount
from clinic2fa.simulator.virtual.authenticator_app import AuthenticatorApp, DeviceError
from clinic2fa.simulator.virtual.passkey import VirtualPasskey

ROLES = ("owner", "admin", "staff")
NO_SESSION = "no-session"  # what a person without a session sends: refused on every side
NO_TOTP = "0" * params.DIGITS  # a code to send when the side has none of the asked kind
NO_BACKUP = "zzzzz-zzzzz"
WRONG_REACH = 30  # steps each way a "wrong" code stays clear of: wider than any skew search
LOOK_ALIKE_ORIGIN = "https://mydentalpractice.example-phish.test"  # a phishing page
OTHER_RP_ID = "example-phish.test"  # another site's RP ID
# The own passkey used wrongly: on a phishing page, signing for another site, a clone made when
# it was set up, or the phishing page answering first and the real page the same request again.
PASSKEY_TRICKS = ("passkey on a look-alike site", "passkey for another site", "cloned passkey",
                  "passkey retried on one request")
# The second step as a person may take it: which code, which backup code, whose passkey.
# Another person's are theirs: their phone's current code, one of their unused backup codes;
# the old app's code is a code of an earlier enrolment's secret, since disabled.
SECOND_STEPS = ("code", "replayed code", "wrong code", "2 wrong codes", "4 wrong codes",
                "old app's code", "backup code", "spent backup code", "old backup code",
                "wrong backup code", *(f"{role}'s code" for role in ROLES),
                *(f"{role}'s backup code" for role in ROLES),
                "passkey", *(f"{role}'s passkey" for role in ROLES), *PASSKEY_TRICKS)

# Actions after which the person (if fully signed in) looks at their Security page: a count of
# backup codes or passkeys that went wrong shows there at once, not only when tried much later.
CHANGES_2FA = frozenset({"sign_in", "second_step", "enrol", "confirm", "regenerate",
                         "disable_own", "add_passkey", "remove_passkey"})

Observation = tuple[Any, ...]


@dataclass(frozen=True)
class Action:
    """What a person does, in words both sides understand: never a secret, code or token."""

    verb: str
    who: str = ""
    arg: str | int = ""
    then: str = ""  # after a sign-in that asks for it, the second step (one of SECOND_STEPS)

    def __str__(self) -> str:
        said = " ".join(str(p) for p in (self.who, self.verb, self.arg) if p != "")
        return f"{said}, then {self.then}" if self.then else said


def describe(seen: Observation) -> str:
    """An observation as a person reads it."""
    kind, *rest = seen
    if kind == "refused":
        code, reason = rest
        return f"refused: {code}{f' ({reason})' if reason else ''}"
    if kind == "steps":
        return "; then ".join(describe(part) for part in rest)
    return f"{kind}{': ' + ', '.join(map(str, rest)) if rest else ''}"


@dataclass
class Person:
    """One account on one side, and what that person holds: phone, codes, passkeys, session."""

    account: Account
    phone: AuthenticatorApp
    session: str | None = None
    setups: list[str] = field(default_factory=list)  # secrets of the setups shown, in order
    backup: list[str] = field(default_factory=list)  # the latest issue, unused
    spent: list[str] = field(default_factory=list)
    old: list[str] = field(default_factory=list)  # unused codes of earlier issues
    accepted: str | None = None  # the last TOTP code this side accepted
    misses: int = 0  # second steps refused since the last one that got through
    passkeys: list[tuple[str, VirtualPasskey]] = field(default_factory=list)
    clones: dict[str, VirtualPasskey] = field(default_factory=dict)  # copied when set up
    # what the person believes of their state, from the answers they saw (the server may have
    # ended a session since): lets the explorer pick actions that mean something now
    stage: str | None = None
    enrolled: bool = False
    setting_up: bool = False
    logged: int = 0  # audit-log entries already searched for this person's secrets
    leaked: bool = False  # one of them held one
    app: AppAccount | None = None  # the phone's entry of the confirmed enrolment
    retired: list[AppAccount] = field(default_factory=list)  # entries of disabled enrolments

    def password(self, which: str | int) -> str:
        return self.account.password if which == "right" else f"{self.account.password}-typo"


class Side:
    """The reference or the target under test, with a person per role and their devices."""

    def __init__(self, target: Any, clock_movable: bool, inspectable: bool = False) -> None:
        self.target = target
        self.clock_movable = clock_movable
        self.inspectable = inspectable  # both sides read what they keep, or neither does
        self.people = {role: Person(target.account(role), AuthenticatorApp(target.server_time))
                       for role in ROLES}
        self._names = 0  # passkey names are key-1, key-2, ... per side, in the same order
        self._wrongs: dict[tuple[Any, ...], str] = {}  # a wrong code per step and secrets
        self._secrets: set[str] = set()  # every secret any setup on this side showed
        self._issues: set[str] = set()  # every backup code this side issued
        self._judged: dict[tuple[str, str], bool] = {}  # (kept, password) -> a hash of it

    def do(self, action: Action) -> Observation:
        """Run one action; what a person could see of the answer, with no secret in it, and
        after one that may change their 2FA, what their Security page then shows and (where
        test support lays it open) what the clinic keeps for them."""
        person = self.people.get(action.who) or next(iter(self.people.values()))
        seen = self._act(person, action)
        if action.verb not in CHANGES_2FA or person.stage != "signed_in":
            return seen
        page = self._call(self._security, person, "")
        steps = [seen, ("Security page", *page[1:]) if page[0] == "ok" else page]
        if self.inspectable:
            kept = self._call(self._records, person, "")
            steps.append(("records", *kept[1:]) if kept[0] == "ok" else kept)
        return ("steps", *steps)

    def _act(self, person: Person, action: Action) -> Observation:
        if action.verb == "enrol":  # start setup (twice to retry), then confirm
            setups = [self._call(self._start_setup, person, "")
                      for _ in range(2 if action.arg == "retry" else 1)]
            if setups[-1][0] != "ok":
                return ("steps", *setups)
            code = "earlier" if action.arg == "retry" else str(action.arg)
            return ("steps", *setups, self._call(self._confirm, person, code))
        if action.verb == "second_step":
            return self._second_step(person, str(action.arg))
        seen = self._call(getattr(self, f"_{action.verb}"), person, action.arg)
        if action.then and seen == ("ok", "second_step"):
            return ("steps", seen, self._second_step(person, action.then))
        return seen

    def _call(self, act: Callable[..., tuple[Any, ...]], *args: Any) -> Observation:
        try:
            return ("ok", *act(*args))
        except Refused as refusal:
            return ("refused", refusal.code, refusal.reason)
        except DeviceError:
            return ("device_refused",)  # the phone or passkey could not use what it was shown

    def _second_step(self, person: Person, method: str) -> Observation:
        """One of SECOND_STEPS on the person's current session; repeated ones each observed.
        The person counts the refusals since they last got through."""
        seen = self._try_second_step(person, method)
        for part in seen[1:] if seen[0] == "steps" else (seen,):
            if part[0] == "refused":
                person.misses += 1
            elif part[0] == "ok" and part[-1] == "signed_in":
                person.misses = 0
        return seen

    def _try_second_step(self, person: Person, method: str) -> Observation:
        times, _, kind = method.partition(" ") if method[0].isdigit() else ("1", "", method)
        kind = kind.replace("codes", "code")
        if kind in PASSKEY_TRICKS:
            return self._passkey_trick(person, kind)
        if kind.endswith("passkey"):
            whose = "own" if kind == "passkey" else kind.split("'")[0]
            return self._call(self._passkey, person, whose)
        whose, _, kind = kind.rpartition("'s ") if "'s " in kind else ("", "", kind)
        if whose in self.people:  # another person's code or backup code, typed here
            return self._call(self._theirs, person, self.people[whose], kind)
        if kind.endswith("backup code"):
            which = {"backup code": "fresh"}.get(kind, kind.split()[0])
            return self._call(self._backup, person, which)
        if kind == "old app's code":
            return self._call(self._enter_code, person, "retired")
        which = {"code": "valid"}.get(kind, kind.split()[0])
        seen = [self._call(self._enter_code, person, which) for _ in range(int(times))]
        return seen[0] if len(seen) == 1 else ("steps", *seen)

    # -- codes as this side's person would type them ----------------------------------------

    def _session(self, person: Person) -> str:
        return person.session or NO_SESSION

    def _totp(self, person: Person, which: str) -> str:
        accounts = person.phone.accounts
        if which == "valid" and accounts:
            return person.phone.code()
        if which == "earlier" and len(accounts) > 1:
            return self._earlier(person)
        if which == "replayed" and person.accepted:
            return person.accepted
        if which == "wrong":
            return self._wrong(person)
        if which == "retired" and person.retired:
            return self._unlike(person, person.phone.code(person.retired[-1]))
        return NO_TOTP

    def _unlike(self, person: Person, code: str) -> str:
        """`code`, unless by chance (about 1 in 16 000) one of the person's own current
        secret's codes near now: each side has its own secrets, so such a match on one side
        only would set the sides apart. Then a code that is nobody's."""
        if not person.app:
            return code
        now = int(person.phone.now() // params.PERIOD)
        near = {person.phone.code_at_step(s, person.app)
                for s in range(now - WRONG_REACH, now + WRONG_REACH + 1)}
        return NO_TOTP if code in near else code

    def _earlier(self, person: Person) -> str:
        """The previous QR code's code now; or a step either side, should it by chance (about
        1 in 16 000) also be the newest secret's code near now: each side has its own secrets,
        so such a match on one side only would set the sides apart."""
        phone, (older, newest) = person.phone, person.phone.accounts[-2:]
        now = int(phone.now() // params.PERIOD)
        near = {phone.code_at_step(s, newest)
                for s in range(now - WRONG_REACH, now + WRONG_REACH + 1)}
        codes = (phone.code_at_step(s, older) for s in (now, now - 1, now + 1))
        return next((code for code in codes if code not in near), NO_TOTP)

    def _wrong(self, person: Person) -> str:
        """A well-formed code no nearby step of the phone's secrets makes: only ever wrong."""
        now = int(person.phone.now() // params.PERIOD)
        key = (now, *(a.secret for a in person.phone.accounts))
        if key not in self._wrongs:  # "4 wrong codes" asks four times in the same step
            taken = {person.phone.code_at_step(s, a) for a in person.phone.accounts
                     for s in range(now - WRONG_REACH, now + WRONG_REACH + 1)}
            digits = params.DIGITS
            self._wrongs[key] = next(c for c in (f"{n:0{digits}d}"
                                                 for n in range(123_457, 10**digits))
                                     if c not in taken)
        return self._wrongs[key]

    def _backup_code(self, person: Person, which: str) -> str:
        pick = {"fresh": person.backup[:1], "spent": person.spent[-1:],
                "old": person.old[-1:]}.get(which, [])
        return pick[0] if pick else NO_BACKUP

    def _issued(self, person: Person, codes: list[str]) -> None:
        """New backup codes: the unused ones of the previous issue become old."""
        if codes:
            person.old.extend(person.backup)
            person.backup = list(codes)

    def _stripped(self, person: Person) -> None:
        """2FA taken off: the person's backup codes are dead, like earlier issues, and so is
        the app's secret (its codes stay on the phone: the old app's code)."""
        person.old.extend(person.backup)
        person.backup = []
        if person.app is not None:
            person.retired.append(person.app)
            person.app = None
        person.enrolled = person.setting_up = False
        person.passkeys.clear()

    # -- the actions -------------------------------------------------------------------------

    def _sign_in(self, person: Person, which: str) -> tuple[Any, ...]:
        result = self.target.sign_in(person.account.email, person.password(which))
        person.session, person.stage = result.session, result.stage
        return (result.stage,)

    def _sign_out(self, person: Person, _: Any) -> tuple[Any, ...]:
        """Sign out; then whether the session signed out of still opens My Profile."""
        if person.session is None:
            return ("no session",)
        old = person.session
        self.target.sign_out(old)
        person.session = person.stage = None
        after = self._call(lambda: (self.target.profile(old), ())[1])
        return ("the old session then: " + describe(after),)

    def _start_setup(self, person: Person, _: Any) -> tuple[Any, ...]:
        screen = self.target.start_authenticator_setup(self._session(person))
        shape = self._shape(person, screen)
        person.setting_up = True
        person.phone.scan(screen.qr_png)  # a QR code the phone cannot read: device_refused
        return shape

    def _shape(self, person: Person, screen: SetupScreen) -> tuple[Any, ...]:
        """What the setup screen shows, minus the secret: Key URI parameters and consistency."""
        parts = urlsplit(screen.uri)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        label_issuer = unquote(parts.path.lstrip("/")).rpartition(":")[0]
        secret = query.get("secret", "").upper()
        typed = "".join(screen.manual_entry.split()).upper()
        fresh = secret not in self._secrets
        self._secrets.add(secret)
        person.setups.append(secret)
        label_email = unquote(parts.path.lstrip("/")).rpartition(":")[2].strip().lower()
        groups = sorted({len(g) for g in screen.manual_entry.split()})
        return (f"{parts.scheme}://{parts.netloc}",
                f"issuer {'named' if query.get('issuer') else 'missing'}",
                f"label issuer {'matches' if label_issuer == query.get('issuer') else 'differs'}",
                f"label {'names them' if label_email == person.account.email else 'names another'}",
                f"secret of {_bits(secret)} bits",
                f"manual entry in groups of {'/'.join(map(str, groups)) or 'nothing'}",
                f"algorithm={query.get('algorithm')}", f"digits={query.get('digits')}",
                f"period={query.get('period')}",
                f"manual entry {'matches' if typed == secret else 'differs from'} the QR code",
                f"secret {'fresh' if fresh else 'shown before (to anyone)'}")

    def _confirm(self, person: Person, which: str) -> tuple[Any, ...]:
        code = self._totp(person, which)
        codes = self.target.confirm_enrolment(self._session(person), code)
        person.accepted, person.stage, person.enrolled, person.setting_up = \
            code, "signed_in", True, False
        person.app = next((a for a in person.phone.accounts
                           if a.secret == _confirmed(person, code)), person.phone.accounts[-1])
        return self._codes(person, codes)

    def _codes(self, person: Person, codes: list[str]) -> tuple[Any, ...]:
        """New backup codes issued: how many, and their shape (length, entropy, freshness)."""
        plain = ["".join(c.split()).replace("-", "").lower() for c in codes]
        seen = self._issues & set(plain)
        self._issues.update(plain)
        self._issued(person, codes)
        if not codes:
            return ("0 backup codes",)
        letters = len(set("".join(plain)))
        bits = min(len(c) for c in plain) * math.log2(max(letters, 1))
        return (f"{len(codes)} backup codes", f"{'/'.join(sorted({str(len(c)) for c in plain}))}"
                " characters each", f"{'at least' if bits >= 20 else 'under'} 20 bits each",
                f"{len(set(plain))} different", "all new" if not seen else "some issued before")

    def _enter_code(self, person: Person, which: str) -> tuple[Any, ...]:
        code = self._totp(person, which)
        result = self.target.enter_code(self._session(person), code)
        person.session, person.stage, person.accepted = result.session, result.stage, code
        return (result.stage,)

    def _theirs(self, person: Person, other: Person, kind: str) -> tuple[Any, ...]:
        """Another person's current code, or one of their unused backup codes, in this
        person's second step: never theirs to use, whatever it is worth to its owner."""
        if kind == "code":
            code = self._unlike(person, other.phone.code(other.app)) if other.app else NO_TOTP
            result = self.target.enter_code(self._session(person), code)
        else:
            result = self.target.use_backup_code(self._session(person),
                                                 other.backup[0] if other.backup else NO_BACKUP)
        person.session, person.stage = result.session, result.stage
        return (result.stage,)

    def _backup(self, person: Person, which: str) -> tuple[Any, ...]:
        code = self._backup_code(person, which)
        result = self.target.use_backup_code(self._session(person), code)
        person.session, person.stage = result.session, result.stage
        if code in person.backup:
            person.backup.remove(code)
        person.spent.append(code)
        return (result.stage,)

    def _regenerate(self, person: Person, which: str) -> tuple[Any, ...]:
        codes = self.target.regenerate_backup_codes(self._session(person),
                                                    person.password(which))
        return self._codes(person, codes)

    def _enforce(self, person: Person, which: str) -> tuple[Any, ...]:
        self.target.set_enforcement(self._session(person), which == "on")
        return ()

    def _disable_own(self, person: Person, which: str) -> tuple[Any, ...]:
        self.target.disable_2fa(self._session(person), person.password(which))
        self._stripped(person)
        return ()

    def _disable_other(self, person: Person, whom: str) -> tuple[Any, ...]:
        other = self.people[whom]
        self.target.disable_2fa_for(self._session(person), other.account.email)
        self._stripped(other)
        return ()

    def _profile(self, person: Person, _: Any) -> tuple[Any, ...]:
        me = self.target.profile(self._session(person))
        return (f"2FA {'on' if me.get('two_factor_enabled') else 'off'}",)

    def _security(self, person: Person, _: Any) -> tuple[Any, ...]:
        page = self.target.security(self._session(person))
        return (f"2FA {'on' if page.two_factor_enabled else 'off'}",
                f"app {'on' if page.authenticator_app else 'off'}",
                f"{page.backup_codes_left} backup codes left", f"{len(page.passkeys)} passkeys",
                f"enforcement {'on' if page.enforcement_required else 'off'}",
                *(f"also shows {key}" for key in sorted(page.extra)))

    def _records(self, person: Person, _: Any) -> tuple[Any, ...]:
        """What the clinic keeps, as far as a rule speaks of it: the password and the backup
        codes as argon2id hashes, and none of the person's secrets in the audit log."""
        kept = self.target.stored_credentials(person.account.email)
        password = kept.get("password")
        hashed = self._hashes_password(password, person.account.password)
        codes = [h for h in kept.get("backup_codes") or [] if h is not None]
        plain = [h for h in codes if stored.parse(h) is None]
        log = self.target.audit_log()  # append-only: only entries not yet read can add a leak
        said = [str(v) for e in log[person.logged:] for k, v in e.items() if k != "at"]
        person.logged = len(log)
        secrets = [person.account.password, *person.setups, *person.backup, *person.spent,
                   *person.old]
        person.leaked = person.leaked or bool(stored.mentioned(said, secrets))
        leaked = person.leaked
        return (f"password {'hashed' if hashed else 'not an argon2id hash of itself'}",
                f"{len(codes) - len(plain)} of {len(codes)} backup codes hashed",
                f"audit log {'holds their secrets' if leaked else 'holds no secret of theirs'}")

    def _hashes_password(self, kept: object, password: str) -> bool:
        """Whether `kept` is an argon2id hash of `password`; a kept hash is judged once."""
        key = (str(kept), password)
        if key not in self._judged:
            self._judged[key] = stored.parse(kept) is not None and stored.matches(*key)
        return self._judged[key]

    def _skew(self, person: Person, seconds: int) -> tuple[Any, ...]:
        person.phone.offset = float(seconds)
        return ()

    def _clock(self, _: Person, seconds: int) -> tuple[Any, ...]:
        self.target.advance_clock(float(seconds))
        return ()

    # passkeys: each side's person holds their own virtual passkeys

    def _add_passkey(self, person: Person, _: Any) -> tuple[Any, ...]:
        device = VirtualPasskey(str(self.target.origin), user_verified=True)
        session = self._session(person)
        credential = device.create(self.target.begin_passkey_setup(session))
        self._names += 1
        name = f"key-{self._names}"
        codes = self.target.finish_passkey_setup(session, credential, name)
        person.passkeys.append((name, device))
        person.clones[name] = device.clone()
        person.enrolled, person.stage = True, "signed_in"
        return self._codes(person, codes)

    def _remove_passkey(self, person: Person, which: str) -> tuple[Any, ...]:
        name = person.passkeys[-1][0] if person.passkeys else "key-0"
        self.target.remove_passkey(self._session(person), name, person.password(which))
        if person.passkeys:
            person.passkeys.pop()
        return ()

    def _passkey(self, person: Person, whose: str, trick: str = "",
                 kept: dict[str, Any] | None = None) -> tuple[Any, ...]:
        """The second step with a passkey: the person's own, or one another person holds; with
        a trick (one of PASSKEY_TRICKS), the own one used as no honest page would use it."""
        session = self._session(person)
        options = self.target.begin_passkey_sign_in(session)
        holder = person if whose == "own" else self.people[whose]
        if not holder.passkeys:
            return ("no passkey to use",)
        name, device = holder.passkeys[-1]
        if kept is not None:
            kept.update(options=options, device=device)
        if trick == "cloned passkey":
            credential = holder.clones[name].get(options)
        elif trick in ("passkey on a look-alike site", "passkey retried on one request"):
            credential = device.get(options, origin=LOOK_ALIKE_ORIGIN)
        elif trick == "passkey for another site":
            credential = device.get(options, rp_id=OTHER_RP_ID)
        else:
            credential = device.get(options, ignore_allow_list=holder is not person)
        return self._finish_passkey(person, session, credential)

    def _finish_passkey(self, person: Person, session: str,
                        credential: dict[str, Any]) -> tuple[Any, ...]:
        result = self.target.finish_passkey_sign_in(session, credential)
        person.session, person.stage = result.session, result.stage
        return (result.stage,)

    def _passkey_trick(self, person: Person, trick: str) -> Observation:
        """One of PASSKEY_TRICKS; a retry is two answers to one request, each observed."""
        kept: dict[str, Any] = {}
        first = self._call(self._passkey, person, "own", trick, kept)
        if trick != "passkey retried on one request" or first[0] != "refused" or not kept:
            return first
        return ("steps", first, self._call(self._passkey_again, person, kept))

    def _passkey_again(self, person: Person, kept: dict[str, Any]) -> tuple[Any, ...]:
        """The real page answers the request a look-alike page answered first."""
        return self._finish_passkey(person, self._session(person),
                                    kept["device"].get(kept["options"]))


def _bits(secret: str) -> int:
    """How many bits a base32 secret decodes to (0 if it is not base32)."""
    try:
        return 8 * len(base64.b32decode(secret + "=" * (-len(secret) % 8)))
    except (binascii.Error, ValueError):
        return 0


def _confirmed(person: Person, code: str) -> str:
    """The secret whose code confirmed the enrolment: the newest setup's, as a rule."""
    now = int(person.phone.now() // params.PERIOD)
    for account in reversed(person.phone.accounts):
        if code in {person.phone.code_at_step(s, account) for s in (now - 1, now, now + 1)}:
            return account.secret
    return person.phone.accounts[-1].secret if person.phone.accounts else ""
