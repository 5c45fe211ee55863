"""The host site: Flask-Security-Too settings, models and one landing page, nothing of its own."""

from __future__ import annotations

import json
import secrets
import tomllib
from pathlib import Path

from flask import Flask, Response, make_response, render_template
from flask_mail import Mail
from flask_security import Security, SQLAlchemyUserDatastore, current_user
from flask_security.models import fsqla_v3 as fsqla
from flask_sqlalchemy import SQLAlchemy

HERE = Path(__file__).resolve().parent
ACCOUNTS = tomllib.loads((HERE / "accounts.toml").read_text())["account"]
ISSUER = "MyDentalPractice"

db = SQLAlchemy()
fsqla.FsModels.set_db_info(db)


class Role(db.Model, fsqla.FsRoleMixin):  # type: ignore[name-defined,misc]
    """owner / admin / staff: Flask-Security's own role model, so views could use roles_required."""


class User(db.Model, fsqla.FsUserMixin):  # type: ignore[name-defined,misc]
    """Flask-Security's complete user model (two-factor, recovery codes, WebAuthn)."""


class WebAuthn(db.Model, fsqla.FsWebAuthnMixin):  # type: ignore[name-defined,misc]
    """Registered passkeys (first or secondary usage)."""


def _keys(var: Path) -> dict[str, str]:
    """Keys made once per checkout from `secrets` and kept beside the database (gitignored)."""
    path = var / "keys.json"
    if not path.exists():
        var.mkdir(parents=True, exist_ok=True)
        made = {
            "SECRET_KEY": secrets.token_urlsafe(32),
            "SECURITY_PASSWORD_SALT": secrets.token_urlsafe(32),
            "TOTP_KEY": secrets.token_urlsafe(32),
        }
        path.write_text(json.dumps(made))
        path.chmod(0o600)
    return json.loads(path.read_text())


def settings(db_path: Path, require_2fa: bool = False) -> dict[str, object]:
    """The whole configuration: required keys, the features the brief names, defaults elsewhere."""
    keys = _keys(db_path.parent)
    return {
        "SECRET_KEY": keys["SECRET_KEY"],
        "SECURITY_PASSWORD_SALT": keys["SECURITY_PASSWORD_SALT"],
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
        # Two-factor with an authenticator app only (the default also offers e-mail and SMS).
        "SECURITY_TWO_FACTOR": True,
        "SECURITY_TWO_FACTOR_ENABLED_METHODS": ["authenticator"],
        "SECURITY_TOTP_ISSUER": ISSUER,
        "SECURITY_TOTP_SECRETS": {"1": keys["TOTP_KEY"]},
        # The operator's site-wide switch; off as seeded (an owner cannot change it: README).
        "SECURITY_TWO_FACTOR_REQUIRED": require_2fa,
        # Recovery codes; the guide promises 10 (library default 5).
        "SECURITY_MULTI_FACTOR_RECOVERY_CODES": True,
        "SECURITY_MULTI_FACTOR_RECOVERY_CODES_N": 10,
        # Passkeys: first-factor and second-factor keys, library defaults.
        "SECURITY_WEBAUTHN": True,
        "SECURITY_WAN_RP_NAME": ISSUER,
        # Mail: nothing leaves this machine. "Send code via email" is switched off (the code it
        # mails could never be read here); "Contact Administrator" sends into the void.
        "SECURITY_TWO_FACTOR_RESCUE_EMAIL": False,
        "MAIL_SUPPRESS_SEND": True,
        "MAIL_DEFAULT_SENDER": "no-reply@example.com",
        "SECURITY_TWO_FACTOR_RESCUE_MAIL": "admin@example.com",
    }


def create_app(db_path: Path, require_2fa: bool = False) -> Flask:
    """The Flask app: Flask-Security's blueprint plus a landing page linking to its screens."""
    app = Flask(__name__, template_folder=str(HERE / "templates"))
    app.config.update(settings(db_path, require_2fa))
    db.init_app(app)
    Mail(app)
    app.security = Security(app, SQLAlchemyUserDatastore(db, User, Role, webauthn_model=WebAuthn))

    @app.get("/")
    def index() -> Response:
        # The page pops flashed messages, so its response may carry the session cookie: it
        # takes the library's own SECURITY_CACHE_CONTROL (private, no-store), not a weaker one.
        response = make_response(render_template("index.html", user=current_user))
        for name, value in app.config["SECURITY_CACHE_CONTROL"].items():
            response.cache_control[name] = value
        return response

    return app
