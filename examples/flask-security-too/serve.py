"""Start the example clinic on 127.0.0.1 (creating and seeding its SQLite database), or reset it.

    serve.py [--port N] [--db PATH] [--quiet]   serve; port 0 picks a free one; prints the URL
    serve.py --reset [--db PATH]                put the seeded accounts back and exit

Reset is the harness's reset hook: it may run while the server runs (same database file).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import sys
from pathlib import Path

from clinic_site import ACCOUNTS, HERE, create_app, db
from flask import Flask
from flask_security import hash_password
from werkzeug.serving import make_server

DEFAULT_DB = HERE / "var" / "clinic.sqlite3"


def password_hashes(app: Flask, var: Path) -> dict[str, str]:
    """Each seeded password hashed once (argon2 costs ~0.3 s each) and kept in var/ for resets.

    The cache is keyed by e-mail, password and the site's password salt, so a changed
    accounts.toml or a new keys.json hashes afresh. The hashes are of published test passwords.
    """
    path = var / "seed-hashes.json"
    cache = json.loads(path.read_text()) if path.exists() else {}
    salt = app.config["SECURITY_PASSWORD_SALT"]
    hashes = {}
    for account in ACCOUNTS:
        text = f"{account['email']}|{account['password']}|{salt}"
        key = hashlib.sha256(text.encode()).hexdigest()
        if key not in cache:
            with app.app_context():
                cache[key] = hash_password(account["password"])
        hashes[account["email"]] = cache[key]
    path.write_text(json.dumps(cache))
    return hashes


def seed(app: Flask, hashes: dict[str, str]) -> None:
    """Every seeded account as new: password as listed, one role, no 2FA, no passkeys, no codes.

    Deleting and re-creating through the library's datastore also gives each account a new
    fs_uniquifier, so sessions and remember-me cookies from before the reset stop working.
    """
    store = app.security.datastore
    with app.app_context():
        db.create_all()
        for account in ACCOUNTS:
            old = store.find_user(email=account["email"])
            if old is not None:
                store.delete_user(old)
        store.commit()
        for account in ACCOUNTS:
            role = store.find_or_create_role(name=account["role"])
            store.create_user(
                email=account["email"],
                password=hashes[account["email"]],
                roles=[role],
            )
        store.commit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--reset", action="store_true", help="re-seed the accounts and exit")
    parser.add_argument("--quiet", action="store_true", help="no request log")
    parser.add_argument(
        "--require-2fa",
        action="store_true",
        help="operator's SECURITY_TWO_FACTOR_REQUIRED=True (not an owner setting; see README)",
    )
    args = parser.parse_args(argv)
    db_path = args.db.resolve()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    app = create_app(db_path, require_2fa=args.require_2fa)
    seed(app, password_hashes(app, db_path.parent))
    if args.reset:
        print(f"reset {db_path}", flush=True)
        return 0
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    print(f"serving http://localhost:{server.server_port}/ (db {db_path})", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
