"""The ``vaultsync`` command.

Every failure a person can cause ends in one line on stderr and a non-zero exit:
2 for bad arguments or unusable input, 1 for a problem found (``doctor``). No stack
traces unless ``VAULTSYNC_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from vaultsync import __version__, cli_prices, cli_sync
from vaultsync.config import Config
from vaultsync.domain.errors import VaultSyncError

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2

DEMO_DIR_NAME = "vaultsync-demo"


class CliError(Exception):
    """A message for the person at the terminal."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"vaultsync: error: {message}\n")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="directory holding this terminal's database, secret and backups "
        "(env VAULTSYNC_DATA_DIR; default ~/.local/share/vaultsync)",
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database URL instead of <data-dir>/vaultsync.db (env VAULTSYNC_DATABASE_URL)",
    )


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1; 0.0.0.0 for the LAN)")
    parser.add_argument("--port", type=int, help="port for the UI and the API (default 8080)")
    parser.add_argument(
        "--role",
        dest="station_role",
        choices=["cashier", "kiosk", "manager", "hq"],
        help="what this station is for (env VAULTSYNC_STATION_ROLE; default manager)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vaultsync", description="Offline-first point of sale for collectibles shops.")
    parser.add_argument("--version", action="version", version=f"vaultsync {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("serve", help="run the terminal: cashier/manager UI and REST API on one port")
    _common(p)
    _server_options(p)
    cli_sync.add_serve_options(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "demo", help="create a demo shop (separate data directory) and serve it as a cashier station"
    )
    _common(p)
    _server_options(p)
    p.add_argument("--skus", type=int, default=20_000, help="catalog size (default 20000)")
    p.add_argument("--seed", type=int, default=7, help="random seed: the same seed gives the same shop")
    p.add_argument("--no-serve", action="store_true", help="only create the demo database")
    p.add_argument("--fresh", action="store_true", help="delete an existing DEMO database first")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    _common(p)
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("doctor", help="check this terminal: database, schema, node id, native core")
    _common(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_doctor)

    station = sub.add_parser("station", help="this terminal's station: printer, drawer, name")
    ssub = station.add_subparsers(dest="station_command", metavar="ACTION", parser_class=_Parser)
    ssub.required = True
    p = ssub.add_parser("list", help="list the shop's stations")
    _common(p)
    p.set_defaults(func=cmd_station_list)
    p = ssub.add_parser("set", help="set this terminal's (or --id's) printer, drawer or name")
    _common(p)
    p.add_argument("--id", dest="station_id", help="another station's id (default: this terminal's)")
    p.add_argument(
        "--role",
        dest="station_role",
        choices=["cashier", "kiosk", "manager", "hq"],
        help="role for this terminal's station if it is created now",
    )
    p.add_argument(
        "--printer",
        metavar="URI",
        help="network://host:9100, usb://VID:PID, serial:///dev/ttyS0?baudrate=19200, "
        "file:///dev/usb/lp0, dummy://, or none",
    )
    drawer = p.add_mutually_exclusive_group()
    drawer.add_argument("--drawer", dest="has_drawer", action="store_true", default=None)
    drawer.add_argument("--no-drawer", dest="has_drawer", action="store_false")
    p.add_argument("--name")
    p.set_defaults(func=cmd_station_set)

    user = sub.add_parser("user", help="manage staff accounts")
    usub = user.add_subparsers(dest="user_command", metavar="ACTION", parser_class=_Parser)
    usub.required = True

    p = usub.add_parser("add", help="add a user (asks for the password/PIN unless given on stdin)")
    _common(p)
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=["admin", "manager", "cashier"])
    p.add_argument(
        "--name", dest="display_name", help="name shown on screen and receipts (default: username)"
    )
    p.add_argument("--password", action="store_true", help="set a password (default for admin/manager)")
    p.add_argument("--pin", action="store_true", help="set a PIN (default for cashier)")
    p.add_argument(
        "--stdin", action="store_true", help="read the password and/or PIN from standard input, one per line"
    )
    p.set_defaults(func=cmd_user_add)

    p = usub.add_parser("list", help="list users")
    _common(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_user_list)

    p = usub.add_parser("passwd", help="change a user's password (or PIN with --pin)")
    _common(p)
    p.add_argument("username")
    p.add_argument("--pin", action="store_true", help="change the PIN instead of the password")
    p.add_argument("--stdin", action="store_true", help="read the new secret from standard input")
    p.set_defaults(func=cmd_user_passwd)
    cli_sync.add_commands(sub, _common)
    cli_prices.add_commands(sub, _common)
    return parser


# --------------------------------------------------------------------------- helpers


def _config(args: argparse.Namespace, *, data_dir: Path | None = None) -> Config:
    return Config.resolve(
        data_dir=data_dir or args.data_dir,
        db=args.db,
        station_role=getattr(args, "station_role", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
    )


def _open(config: Config, **kwargs: Any) -> Any:
    from vaultsync.store import open_store

    if config.database_url.startswith("sqlite") and kwargs.get("create", True):
        config.ensure_data_dir()
    return open_store(config.database_url, **kwargs)


def _services(config: Config) -> Any:
    from vaultsync.services.container import Services

    return Services.build(config, _open(config))


def _read_secret(kind: str, *, from_stdin: bool, stream: Any = None) -> str:
    if from_stdin:
        line = (stream or sys.stdin).readline()
        if not line:
            raise CliError(f"expected a {kind} on standard input")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise CliError(f"no terminal to ask for the {kind}: pass --stdin and pipe it in")
    first = getpass.getpass(f"New {kind}: ")
    second = getpass.getpass(f"Repeat {kind}: ")
    if first != second:
        raise CliError(f"the two {kind}s differ; nothing was changed")
    return first


def _serve(services: Any) -> None:
    from ui.server import create_app, run

    create_app(services)
    if services.config.station_role.value in ("manager", "hq"):
        # price feeds are fetched by the manager desk (or HQ) only: one fetch per shop, whose
        # results replicate, instead of every register importing the same file
        from vaultsync.services.price_feeds import FeedScheduler

        FeedScheduler(services.price_feeds).start()
    print(
        f"VaultSync {__version__} serving {services.shop.name!r} on "
        f"http://{services.config.host}:{services.config.port} "
        f"(station: {services.config.station_role.value}, node {services.store.node_id})",
        flush=True,
    )
    run(services)


# --------------------------------------------------------------------------- commands


def cmd_serve(args: argparse.Namespace) -> int:
    from vaultsync import logs

    logs.setup(os.environ.get("VAULTSYNC_LOG_LEVEL", "INFO"))
    services = _services(_config(args))
    node = cli_sync.start_sync(services, args)
    try:
        _serve(services)
    finally:
        if node is not None:
            node.stop()
    return EXIT_OK


def _demo_dir(args: argparse.Namespace) -> Path:
    if args.data_dir:
        return Path(args.data_dir).expanduser()
    from vaultsync.config import default_data_dir

    # never the real shop's directory: the demo lives beside it
    return default_data_dir().parent / DEMO_DIR_NAME


def cmd_demo(args: argparse.Namespace) -> int:
    from vaultsync.services.demo import generate_demo_shop

    if args.station_role is None and not os.environ.get("VAULTSYNC_STATION_ROLE"):
        args.station_role = "cashier"  # the demo is a register: PIN login, drawer, receipts
    config = _config(args, data_dir=_demo_dir(args))
    if args.fresh:
        _remove_demo_database(config)
    services = _services(config)
    if services.shop.get("shop.demo"):
        print(f"Using the existing demo shop in {config.data_dir} (pass --fresh to regenerate it).")
        _print_demo_credentials()
    else:
        print(f"Creating a demo shop with {args.skus:,} SKUs in {config.data_dir} ...", flush=True)
        result = generate_demo_shop(services.store, skus=args.skus, seed=args.seed)  # marks shop.demo
        services.shop.forget()  # the demo's shop name, not the default cached while it was built
        services.store.checkpoint()
        counts = ", ".join(f"{v:,} {k}" for k, v in result.counts.items())
        print(f"Done in {result.seconds:.1f} s: {counts}")
        _print_demo_credentials()
    if args.no_serve:
        return EXIT_OK
    _serve(services)
    return EXIT_OK


def _print_demo_credentials() -> None:
    from vaultsync.services.demo import DEMO_CREDENTIALS

    print("Demo logins:")
    for cred in DEMO_CREDENTIALS:
        parts = [f"  {cred.role:<8} {cred.username:<9}"]
        if cred.password:
            parts.append(f"password {cred.password}")
        if cred.pin:
            parts.append(f"PIN {cred.pin}")
        print("  ".join(parts))


def _remove_demo_database(config: Config) -> None:
    from vaultsync.store.engine import parse_url

    url = parse_url(config.database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        raise CliError("--fresh only works on an SQLite demo database")
    path = Path(url.database)
    if not path.exists():
        return
    from vaultsync.store import open_store

    store = open_store(config.database_url, migrate_schema=False, require_current=False)
    try:
        from vaultsync.services.shop import ShopService

        is_demo = bool(ShopService(store).get("shop.demo"))
    finally:
        store.close()
    if not is_demo:
        raise CliError(f"{path} is not a demo database; refusing to delete it")
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def cmd_migrate(args: argparse.Namespace) -> int:
    from vaultsync.store import migrate

    config = _config(args)
    store = _open(config)
    try:
        print(
            f"database {store.engine.url.render_as_string()} is at schema "
            f"{migrate.current_revision(store.engine)} (node {store.node_id})"
        )
    finally:
        store.close()
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from vaultsync import native
    from vaultsync.services import health
    from vaultsync.store import migrate

    config = _config(args)
    try:
        store = _open(config, migrate_schema=False, create=False, require_current=False, integrity_check=True)
    except VaultSyncError as exc:
        report: dict[str, Any] = {
            "version": __version__,
            "database_url": config.database_url,
            "database_ok": False,
            "schema_revision": None,
            "schema_head": migrate.head_revision(),
            "node_id": None,
            "native": native.core_mode(),
            "native_kernels": native.status(),
            "problems": [str(exc)],
            "ok": False,
        }
    else:
        from vaultsync.services.sync import SyncService

        try:
            # the operator at the terminal may see the peers (the mirrored view of `serve`'s links)
            report = health.check(store, sync=SyncService(store, config.data_dir), with_peers=True).as_dict()
        finally:
            store.close()
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        for key in ("version", "database_url", "schema_revision", "schema_head", "node_id", "native"):
            print(f"{key:16} {report.get(key)}")
        for key in ("disk_free_bytes", "wal_bytes", "changes_logged", "peers_known"):
            if report.get(key) is not None:
                print(f"{key:16} {report[key]:,}")
        sync = report.get("sync")
        if sync:
            state = "paired" if sync["paired"] else "not paired (selling on its own)"
            print(
                f"{'sync':16} {state}; peers online {sync['peers_online']}/{sync['peers_known']}; "
                f"changes peers lack {sync['changes_peers_lack']:,}, we lack {sync['changes_we_lack']:,}; "
                f"open alerts {sync['alerts_open']} ({sync['alerts_critical']} critical)"
            )
            if sync.get("identity_conflict"):
                print(f"{'':16} {sync['identity_conflict']}")
        if report["problems"]:
            print("problems:")
            for problem in report["problems"]:
                print(f"  - {problem}")
        else:
            print("no problems found")
    return EXIT_OK if report["ok"] else EXIT_PROBLEMS


def cmd_station_list(args: argparse.Namespace) -> int:
    services = _services(_config(args))
    stations = services.stations.list()
    if not stations:
        print("no stations yet: one is created for this terminal when it first serves")
    for st in stations:
        mine = " (this terminal)" if st.node_id == services.store.node_id else ""
        drawer = "yes" if st.has_drawer else "no"
        print(
            f"{st.id}  {st.name:<20} {st.role:<8} prefix {st.receipt_prefix:<6} "
            f"printer {st.printer_uri or 'none'}  drawer {drawer}{mine}"
        )
    return EXIT_OK


def cmd_station_set(args: argparse.Namespace) -> int:
    services = _services(_config(args))
    station_id = args.station_id or services.stations.local(services.config.station_role).id
    st = services.stations.update(
        station_id, name=args.name, printer_uri=args.printer, has_drawer=args.has_drawer
    )
    print(f"{st.name}: printer {st.printer_uri or 'none'}, drawer {'yes' if st.has_drawer else 'no'}")
    return EXIT_OK


def cmd_user_add(args: argparse.Namespace) -> int:
    services = _services(_config(args))
    want_password = args.password or (not args.pin and args.role != "cashier")
    want_pin = args.pin or args.role == "cashier"
    password = _read_secret("password", from_stdin=args.stdin) if want_password else None
    pin = _read_secret("PIN", from_stdin=args.stdin) if want_pin else None
    user = services.auth.add_user(
        args.username, args.display_name or args.username, args.role, password=password, pin=pin
    )
    print(f"added {user.role.value} {user.username!r} ({user.display_name})")
    return EXIT_OK


def cmd_user_list(args: argparse.Namespace) -> int:
    services = _services(_config(args))
    users = services.auth.list_users()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "username": u.username,
                        "display_name": u.display_name,
                        "role": u.role.value,
                        "active": u.is_active,
                        "password": u.has_password,
                        "pin": u.has_pin,
                    }
                    for u in users
                ],
                indent=2,
            )
        )
        return EXIT_OK
    if not users:
        print("no users yet: add one with `vaultsync user add NAME --role admin`")
        return EXIT_OK
    print(f"{'username':<20} {'role':<8} {'active':<6} {'login':<13} name")
    for u in users:
        login = "+".join(x for x, has in (("password", u.has_password), ("PIN", u.has_pin)) if has)
        active = "yes" if u.is_active else "no"
        print(f"{u.username:<20} {u.role.value:<8} {active:<6} {login:<13} {u.display_name}")
    return EXIT_OK


def cmd_user_passwd(args: argparse.Namespace) -> int:
    services = _services(_config(args))
    services.auth.by_username(args.username)  # fail before asking for a secret
    if args.pin:
        services.auth.set_pin(args.username, _read_secret("PIN", from_stdin=args.stdin))
        print(f"PIN changed for {args.username!r}")
    else:
        services.auth.set_password(args.username, _read_secret("password", from_stdin=args.stdin))
        print(f"password changed for {args.username!r}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (VaultSyncError, CliError) as exc:
        if os.environ.get("VAULTSYNC_DEBUG") == "1":
            raise
        print(f"vaultsync: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
