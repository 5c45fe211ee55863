"""Seeded defects of a wrong number, algorithm or time: secret size, code entropy, challenges."""

from __future__ import annotations

import base64
import random
import secrets
from typing import Any

from clinic2fa.scenarios.selfcheck.defects.registry import defect, register
from clinic2fa.simulator import backup_codes, totp
from clinic2fa.simulator.clinic import Clinic, Setup, Stage
from clinic2fa.simulator.errors import ErrorCode, TwoFactorError
from clinic2fa.simulator.passkeys import Ceremony, Passkeys
from clinic2fa.simulator.totp import TotpParams
from clinic2fa.simulator.users import User


@defect("short-totp-secret", ("TOTP-SECRET-SIZE",), "TOTP secrets of 112 bits, not 160")
class ShortTotpSecret(Clinic):
    def start_authenticator_setup(self, token: str) -> Setup:
        super().start_authenticator_setup(token)
        _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
        user.pending_secret = secret = base64.b32encode(secrets.token_bytes(14)).decode()
        uri = totp.provisioning_uri(secret, user.email, self.policy.issuer, self.params)
        return Setup(uri, totp.manual_entry(secret), totp.qr_svg(uri), totp.qr_png(uri))


@defect("totp-sha256-everywhere", ("TOTP-STEP",),
        "codes use HMAC-SHA-256 (announced so in the Key URI), not SHA-1")
class TotpSha256(Clinic):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.params = TotpParams("SHA256", self.params.digits, self.params.period)


@defect("manual-secret-ungrouped", ("MANUAL-SECRET",),
        "the manual-entry secret is one run of 32 characters, not short groups")
class ManualSecretUngrouped(Clinic):
    def start_authenticator_setup(self, token: str) -> Setup:
        setup = super().start_authenticator_setup(token)
        return Setup(setup.uri, "".join(setup.manual_entry.split()), setup.qr_svg, setup.qr_png)


@defect("backup-codes-low-entropy", ("BACKUP-ENTROPY",),
        "backup codes of 10 characters drawn from only '0' and '1' (10 bits)")
class BackupCodesLowEntropy(Clinic):
    def _fresh_backup_codes(self) -> backup_codes.Issue:
        codes = []
        for _ in range(self.policy.backup_code_count):
            raw = "".join(secrets.choice("01") for _ in range(backup_codes.LENGTH))
            codes.append(f"{raw[:5]}-{raw[5:]}")
        return backup_codes.Issue(codes, backup_codes.hash_all(codes, self._hasher))


@defect("backup-codes-repeat", ("BACKUP-ENTROPY",),
        "backup codes come from a random generator seeded the same way each time: every "
        "issue is the same list")
class BackupCodesRepeat(Clinic):
    def _fresh_backup_codes(self) -> backup_codes.Issue:
        rng = random.Random(2026)  # noqa: S311 - the defect: not a CSPRNG, and seeded
        codes = []
        for _ in range(self.policy.backup_code_count):
            raw = "".join(rng.choice(backup_codes.ALPHABET) for _ in range(backup_codes.LENGTH))
            codes.append(f"{raw[:5]}-{raw[5:]}")
        return backup_codes.Issue(codes, backup_codes.hash_all(codes, self._hasher))


@defect("lockout-never-ends", ("TOTP-RATE-LIMIT",),
        "a lock-out never ends: the right code is refused for ever after five wrong ones")
class LockoutNeverEnds(Clinic):
    """Each lock-out says when it ends (Retry-After), and is renewed when that time comes."""

    def _check_lockout(self, user: User) -> None:
        now = self.clock.now()
        if 0 < user.locked_until <= now:
            user.locked_until = now + self.policy.lockout_seconds
        super()._check_lockout(user)


class _ChallengeNeverExpires(Passkeys):
    def _take_challenge(self, key: str, ceremony: Ceremony) -> bytes:
        pending = self._pending.pop((key, ceremony), None)  # taken, but never too old
        if pending is None:
            raise TwoFactorError(ErrorCode.PASSKEY_CHALLENGE_INVALID, "No challenge pending.")
        return pending.challenge


class _ChallengeNotBound(Passkeys):
    def _check_client(self, client: Any, kind: Any, expected: bytes) -> None:
        """Any challenge this relying party handed out will do, whoever it went to."""
        known = {p.challenge for p in self._pending.values()}
        if client.challenge in known:
            expected = client.challenge
        super()._check_client(client, kind, expected)


def _relying_party(kind: type[Passkeys]) -> Any:
    def build(**kwargs: Any) -> Clinic:
        clinic = Clinic(**kwargs)
        clinic._passkeys.__class__ = kind
        return clinic

    return build


register("passkey-challenge-never-expires", ("PASSKEY-CHALLENGE",),
         "a passkey challenge is accepted however long after the ceremony's timeout",
         _relying_party(_ChallengeNeverExpires))
register("passkey-challenge-not-bound", ("PASSKEY-CHALLENGE",),
         "an answer to any pending challenge is accepted in any ceremony",
         _relying_party(_ChallengeNotBound))


class _SignCountNotStored(Passkeys):
    def verify_authentication(self, key: str, user: User, credential: object) -> Any:
        """Checks the count against the stored one, but never stores the new count."""
        counts = [(p, p.sign_count) for p in user.passkeys]
        used = super().verify_authentication(key, user, credential)
        for passkey, count in counts:
            passkey.sign_count = count
        return used


register("passkey-sign-count-not-stored", ("PASSKEY-SIGN-COUNT",),
         "an accepted assertion's sign count is never stored, so a clone's repeat passes",
         _relying_party(_SignCountNotStored))
