"""Django settings of the host site: allauth[mfa] with its defaults, except where noted."""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
DB_PATH = Path(os.environ.get("CLINIC_SITE_DB", HERE.parent / "var" / "site.sqlite3"))

# A fixed key is fine for a loopback test site; a real deployment reads it from its secrets store.
SECRET_KEY = os.environ.get("CLINIC_SITE_SECRET_KEY", "loopback-only-test-key-not-for-production")
# DEBUG off, as in production; serve.py serves allauth's JavaScript with Django's static handler.
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",  # the security-key list template needs it (allauth docs, WebAuthn)
    "allauth",
    "allauth.account",
    "allauth.mfa",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "clinicsite.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [HERE / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
WSGI_APPLICATION = None

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DB_PATH,
        # WAL lets the reset command write while the server runs; IMMEDIATE transactions make
        # concurrent writers wait instead of failing ("database is locked").
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE",
                    "init_command": "PRAGMA journal_mode=WAL;"},
    }
}
# allauth keeps rate-limit counters and used-TOTP markers in the cache. A database cache is
# shared by every process (allauth's "Deployment Requirements" for rate limits), so the reset
# command can clear it too.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                      "LOCATION": "clinic_cache"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
STATIC_URL = "/static/"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"

# -- allauth.account ---------------------------------------------------------------------------
ACCOUNT_SIGNUP_ENABLED = False  # a clinic creates its staff accounts; no public sign-up
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
# Per-IP limits raised 20x: every person at a clinic, like every harness user here, reaches
# the site from one address (the practice's NAT, or 127.0.0.1), and the defaults (10 failures
# and 30 sign-ins a minute per IP) would lock the whole practice out after one person's typos.
# The per-account limits, the ones the spec is about, keep allauth's defaults: 5 failures per
# 5 minutes per e-mail address (password) and per user (2FA codes, which reuse "login_failed").
ACCOUNT_RATE_LIMITS = {
    "login_failed": "200/m/ip,5/5m/key",
    "login": "600/m/ip",
}

# -- allauth.mfa -------------------------------------------------------------------------------
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = "MyDentalPractice"  # default: the request host
MFA_RATE_LIMITS = {"webauthn_login": "200/m/ip"}  # default 10/m/ip; raised as above
