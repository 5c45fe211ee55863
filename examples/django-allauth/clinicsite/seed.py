"""The seeded accounts (owner, admin, two staff) and the reset that puts them back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Account:
    """One seeded person: the guide's role, how Django models it, and the sign-in."""

    role: str
    email: str
    password: str
    superuser: bool  # Owner: Django superuser (every admin permission)
    staff_flag: bool  # Django's is_staff: may open /admin/ ("Settings -> Staff")
    group: str


ACCOUNTS = (
    Account("owner", "owner@example.com", "Owner-Pass-2026!", True, True, "Owner"),
    Account("admin", "admin@example.com", "Admin-Pass-2026!", False, True, "Admin"),
    Account("staff", "staff1@example.com", "Staff1-Pass-2026!", False, False, "Staff"),
    Account("staff", "staff2@example.com", "Staff2-Pass-2026!", False, False, "Staff"),
)

# The Admin role: see users, see and delete their authenticators in Django admin.
ADMIN_PERMISSIONS = (("mfa", "view_authenticator"), ("mfa", "delete_authenticator"),
                     ("auth", "view_user"))


def _hashes_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".seed-hashes.json")


def seed(db_path: Path) -> None:
    """Create groups and accounts once; the slow password hashes are kept beside the DB."""
    from django.contrib.auth.hashers import make_password

    hashes = {a.email: make_password(a.password) for a in ACCOUNTS}
    _hashes_path(db_path).write_text(json.dumps(hashes, indent=1))
    reset(db_path)


def reset(db_path: Path) -> None:
    """Put every seeded account back: 2FA off, no passkeys, seeded password, no sessions."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator
    from django.contrib.admin.models import LogEntry
    from django.contrib.auth.models import Group, Permission, User
    from django.contrib.sessions.models import Session
    from django.core.cache import cache
    from django.db import transaction

    hashes = json.loads(_hashes_path(db_path).read_text())
    with transaction.atomic():
        Authenticator.objects.all().delete()
        Session.objects.all().delete()
        LogEntry.objects.all().delete()
        User.objects.exclude(email__in=[a.email for a in ACCOUNTS]).delete()
        admin_group, _ = Group.objects.get_or_create(name="Admin")
        admin_group.permissions.set([
            Permission.objects.get(content_type__app_label=app, codename=code)
            for app, code in ADMIN_PERMISSIONS])
        for account in ACCOUNTS:
            user, _ = User.objects.get_or_create(
                username=account.email.split("@")[0], defaults={"email": account.email})
            user.email = account.email
            user.password = hashes[account.email]
            user.is_superuser = account.superuser
            user.is_staff = account.staff_flag
            user.is_active = True
            user.save()
            group, _ = Group.objects.get_or_create(name=account.group)
            user.groups.set([group])
            EmailAddress.objects.filter(user=user).exclude(email=account.email).delete()
            EmailAddress.objects.update_or_create(
                user=user, email=account.email, defaults={"verified": True, "primary": True})
    cache.clear()  # rate-limit counters and used-code markers
