"""Start the allauth[mfa] clinic site on loopback with its seeded accounts, or reset them.

    serve.py [PORT]          serve on 127.0.0.1:PORT (0, the default: a free port, printed)
    serve.py --reset         put the seeded accounts back (the harness's reset hook) and exit
    serve.py --fresh [PORT]  start from a new database (copied from var/template.sqlite3)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socketserver
import sqlite3
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VAR = HERE / "var"


def _setup(db_path: Path) -> None:
    sys.path.insert(0, str(HERE))
    os.environ["DJANGO_SETTINGS_MODULE"] = "clinicsite.settings"
    os.environ["CLINIC_SITE_DB"] = str(db_path)
    import django

    django.setup()


def _hashes(db_path: Path) -> Path:
    return Path(str(db_path) + ".seed-hashes.json")


def _prepare(db_path: Path, fresh: bool) -> None:
    """Give db_path a migrated, seeded database: a copy of the template, or built (about 4 s)."""
    template = VAR / "template.sqlite3"
    VAR.mkdir(exist_ok=True)
    if fresh:
        for path in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm"), _hashes(db_path)):
            path.unlink(missing_ok=True)
    if not db_path.exists() and template.exists() and _hashes(template).exists():
        shutil.copyfile(template, db_path)
        shutil.copyfile(_hashes(template), _hashes(db_path))
    build = not (db_path.exists() and _hashes(db_path).exists())
    _setup(db_path)
    if build:
        from clinicsite import seed
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        call_command("createcachetable", verbosity=0)
        seed.seed(db_path)
        with sqlite3.connect(db_path) as source, sqlite3.connect(template) as target:
            source.backup(target)
        shutil.copyfile(_hashes(db_path), _hashes(template))


def _serve(host: str, port: int) -> None:
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer

    class Server(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True

    httpd = Server((host, port), WSGIRequestHandler, ipv6=False)
    httpd.set_app(StaticFilesHandler(WSGIHandler()))
    print(f"serving http://localhost:{httpd.server_address[1]}/ (bound to {host})", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        httpd.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", nargs="?", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--db", type=Path, default=VAR / "site.sqlite3")
    parser.add_argument("--reset", action="store_true", help="reset the seeded accounts, exit")
    parser.add_argument("--fresh", action="store_true", help="start from a new database")
    args = parser.parse_args(argv)
    started = time.monotonic()
    db_path = args.db.resolve()
    _prepare(db_path, args.fresh)
    from clinicsite import seed

    seed.reset(db_path)
    if args.reset:
        print(f"reset {db_path} in {time.monotonic() - started:.2f} s", flush=True)
        return 0
    _serve(args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
