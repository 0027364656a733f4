"""The sync parts of the ``vaultsync`` command: shop init, pair, join, sync status/now/verify/revoke.

Kept apart from :mod:`vaultsync.cli` so the main command file only gains a few lines;
the commands follow its rules (one line on stderr and exit 2 for a person's mistake).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
from typing import Any

from vaultsync.domain.errors import ValidationError

DEFAULT_SYNC_PORT = 8470


def _env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() not in ("0", "false", "no", "off", "")


def _env_number(name: str, default: str) -> float:
    raw = os.environ.get(name, default)
    try:
        return float(raw)
    except ValueError:
        raise ValidationError(f"{name}={raw!r} is not a number") from None


def add_serve_options(p: argparse.ArgumentParser) -> None:
    """Options of ``serve`` (and ``demo``) for the sync node."""
    g = p.add_argument_group("sync")
    g.add_argument(
        "--sync-port",
        type=int,
        help=f"port for terminal-to-terminal sync (mutual TLS; env VAULTSYNC_SYNC_PORT; default "
        f"{DEFAULT_SYNC_PORT}); new terminals pair on the next port",
    )
    g.add_argument(
        "--sync-host",
        help="interface for sync (env VAULTSYNC_SYNC_HOST; default 0.0.0.0: the shop LAN)",
    )
    g.add_argument(
        "--peer",
        action="append",
        default=None,
        metavar="HOST:PORT",
        help="a peer to sync with even without zeroconf (repeatable; env VAULTSYNC_PEERS, comma-separated)",
    )
    g.add_argument(
        "--no-zeroconf",
        action="store_true",
        default=None,
        help="do not advertise or browse with zeroconf (env VAULTSYNC_ZEROCONF=0)",
    )
    g.add_argument(
        "--no-sync", action="store_true", help="do not start the sync node (a terminal on its own)"
    )
    g.add_argument("--sync-interval", type=float, help="seconds between anti-entropy rounds (default 5)")
    g.add_argument(
        "--no-peer-learning",
        action="store_true",
        help="only dial configured/discovered peers, never the address of a peer that dialled us",
    )


def sync_settings(args: argparse.Namespace) -> dict[str, Any]:
    from vaultsync.sync.discovery import parse_static_peer

    port = getattr(args, "sync_port", None)
    if port is None:
        port = int(_env_number("VAULTSYNC_SYNC_PORT", str(DEFAULT_SYNC_PORT)))
    if not 1 <= port <= 65534:
        raise ValidationError(f"sync port {port} is outside 1-65534")
    peers = list(getattr(args, "peer", None) or [])
    env_peers = os.environ.get("VAULTSYNC_PEERS", "")
    peers += [p.strip() for p in env_peers.split(",") if p.strip()]
    for p in peers:
        parse_static_peer(p)  # a typo is a clear error at start, not a silent non-peer
    zeroconf = not getattr(args, "no_zeroconf", None) and _env_flag("VAULTSYNC_ZEROCONF", True)
    interval = getattr(args, "sync_interval", None) or _env_number("VAULTSYNC_SYNC_INTERVAL", "5")
    if not 0.05 <= interval <= 3600:
        raise ValidationError("sync interval must be between 0.05 and 3600 seconds")
    compact = _env_number("VAULTSYNC_COMPACT_INTERVAL", "3600")
    if compact != 0 and not 60 <= compact <= 7 * 86400:
        raise ValidationError("VAULTSYNC_COMPACT_INTERVAL must be 0 (off) or 60 s to 7 days")
    return {
        "port": port,
        "compact_interval": compact,
        # the LAN is where the peers are; mutual TLS is what guards the port
        "host": getattr(args, "sync_host", None) or os.environ.get("VAULTSYNC_SYNC_HOST", "0.0.0.0"),
        "static_peers": peers,
        "zeroconf": zeroconf,
        "interval": interval,
        "learn_inbound": not getattr(args, "no_peer_learning", False),
    }


def start_sync(services: Any, args: argparse.Namespace) -> Any:
    """Start the sync node of a serving terminal; None (with the reason printed) if it cannot run."""
    import logging

    from vaultsync.sync import pki
    from vaultsync.sync.node import SyncNode

    log = logging.getLogger("vaultsync.sync")
    if getattr(args, "no_sync", False):
        return None
    settings = sync_settings(args)
    data_dir = services.config.data_dir
    from vaultsync.sync import reidentify

    unfinished = reidentify.pending(data_dir)
    if unfinished is not None:
        print(
            f"sync: off — terminal {unfinished.old_node} was restored from an older backup and now is "
            f"{unfinished.new_node}, which has no certificate yet: run `vaultsync sync reidentify "
            "HOST:PORT CODE` with a pairing code from a manager",
            flush=True,
        )
        return None
    if not pki.has_identity(data_dir):
        print(
            "sync: off — this terminal is not paired (run `vaultsync shop init` on the shop's first "
            "terminal, or `vaultsync join HOST:PORT CODE` here)",
            flush=True,
        )
        return None
    identity = pki.load_identity(data_dir, node_id=services.store.node_id)
    node = SyncNode(
        services.store,
        identity,
        host=settings["host"],
        port=settings["port"],
        static_peers=settings["static_peers"],
        zeroconf=settings["zeroconf"],
        interval=settings["interval"],
        shop_name=services.shop.name,
        learn_inbound=settings["learn_inbound"],
        compact_interval=settings["compact_interval"],
    )
    try:
        node.start()
    except Exception as exc:
        log.error("sync node could not start: %s", exc)
        print(f"sync: off — could not listen on {settings['host']}:{settings['port']}: {exc}", flush=True)
        return None
    services.sync.node = node
    pairing = f", pairing on port {node.pairing_port}" if node.pairing_port else ""
    print(f"sync: node {node.store.node_id} on {node.host}:{node.port}{pairing}", flush=True)
    return node


# --------------------------------------------------------------------------- commands


def add_commands(sub: Any, common: Any) -> None:
    shop = sub.add_parser("shop", help="shop setup: create the shop's certificate authority")
    ssub = shop.add_subparsers(dest="shop_command", metavar="ACTION", parser_class=type(shop))
    ssub.required = True
    p = ssub.add_parser("init", help="make this terminal the shop's first (creates the shop CA)")
    common(p)
    p.add_argument("--name", help="shop name (default: the shop name setting)")
    p.set_defaults(func=cmd_shop_init)

    p = sub.add_parser("pair", help="show a one-time code for pairing a new terminal (first terminal)")
    common(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--sync-port", type=int, help="the sync port this terminal serves on (default 8470)")
    p.set_defaults(func=cmd_pair)

    p = sub.add_parser("join", help="pair this terminal with the shop: HOST:PORT and the code from `pair`")
    common(p)
    p.add_argument("address", metavar="HOST:PORT", help="the first terminal's pairing address")
    p.add_argument("code", help="the one-time code, e.g. ABCD-EFGH")
    p.add_argument("--name", help="this terminal's name (default: the host name)")
    p.add_argument("--no-bootstrap", action="store_true", help="only pair; copy the shop's data later")
    p.set_defaults(func=cmd_join)

    sync = sub.add_parser("sync", help="replication with the other terminals")
    ysub = sync.add_subparsers(dest="sync_command", metavar="ACTION", parser_class=type(sync))
    ysub.required = True
    p = ysub.add_parser("status", help="peers, lag, alerts (as last seen by the serving process)")
    common(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sync_status)
    for name, helptext, func in (
        ("now", "pull from every known peer now", cmd_sync_now),
        ("verify", "compare this terminal's replicated data with each peer's", cmd_sync_verify),
    ):
        p = ysub.add_parser(name, help=helptext)
        common(p)
        p.add_argument("--peer", action="append", metavar="HOST:PORT", help="peer (default: known peers)")
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=func)
    p = ysub.add_parser("revoke", help="revoke a terminal: it can no longer sync with anyone")
    common(p)
    p.add_argument("node_id")
    p.set_defaults(func=cmd_sync_revoke)
    p = ysub.add_parser(
        "reidentify",
        help="give this terminal a new identity after it was restored from an older backup "
        "(needs a pairing code from a manager)",
    )
    common(p)
    p.add_argument("address", metavar="HOST:PORT", help="a peer's sync address (its pairing port is +1)")
    p.add_argument("code", help="a one-time pairing code (`vaultsync pair` on the shop's first terminal)")
    p.add_argument("--pairing-port", type=int, help="the pairing port, if not the sync port + 1")
    p.add_argument("--name", help="this terminal's name (default: the name it had)")
    p.set_defaults(func=cmd_sync_reidentify)


def _services(args: argparse.Namespace) -> Any:
    from vaultsync import cli

    return cli._services(cli._config(args))


def cmd_shop_init(args: argparse.Namespace) -> int:
    services = _services(args)
    name = args.name or services.shop.name
    ident = services.sync.init_shop(name)
    if args.name:
        services.shop.set("shop.name", args.name)
    print(f"shop {name!r} created: shop id {ident.shop_id}, this terminal is node {ident.node_id}")
    print("start it with `vaultsync serve`, then pair other terminals with `vaultsync pair`")
    return 0


def cmd_pair(args: argparse.Namespace) -> int:
    services = _services(args)
    issued = services.sync.create_pairing_code_cli()
    settings = sync_settings(argparse.Namespace(sync_port=args.sync_port))
    host = socket.gethostname()
    where = f"{host}:{settings['port'] + 1}"
    if args.json:
        print(json.dumps({"code": issued.code, "expires_at": issued.expires_at.isoformat(), "join": where}))
    else:
        print(f"pairing code: {issued.code}  (one use, expires {issued.expires_at:%H:%M} UTC)")
        print(f"on the new terminal run:  vaultsync join {where} {issued.code}")
    return 0


def cmd_join(args: argparse.Namespace) -> int:
    from vaultsync.sync import pairing
    from vaultsync.sync.discovery import parse_static_peer

    host, port = parse_static_peer(args.address)
    services = _services(args)
    try:
        result = pairing.join(
            services.store,
            services.config.data_dir,
            host,
            port,
            args.code,
            name=(args.name or socket.gethostname())[:64],
        )
    except pairing.PairingError as exc:
        if "not connected" in str(exc):
            raise pairing.PairingError(
                f"{exc} — give the pairing address that `vaultsync pair` shows (the sync port + 1)"
            ) from exc
        raise
    print(f"joined shop {result.shop_name or result.shop_id} as terminal {result.node_id}")
    if not args.no_bootstrap:
        rounds = _one_shot(services, [f"{host}:{port - 1}"], "bootstrap")
        for r in rounds:
            if r.get("error"):
                print(f"  could not copy the shop from {r['peer']}: {r['error']}")
                print("  it arrives when this terminal serves and finds its peers (or: `vaultsync sync now`)")
            elif "rows" in r:
                print(f"  copied from {r['peer']}: {r['rows']} rows, then {r.get('pulled', 0)} newer changes")
            else:
                print(f"  copied from {r['peer']}: {r.get('applied', 0)} changes")
    return 0


def cmd_sync_status(args: argparse.Namespace) -> int:
    services = _services(args)
    st = services.sync.status()
    if args.json:
        from dataclasses import asdict

        print(json.dumps(asdict(st), default=str, indent=2))
        return 0
    print(f"node {st.node_id}  shop {st.shop_id}  {'paired' if st.paired else 'NOT PAIRED'}")
    if st.problem:
        print(f"  problem: {st.problem}")
    if not st.peers:
        print("  no peers seen yet")
    for p in st.peers:
        seen = p.last_seen.strftime("%Y-%m-%d %H:%M:%S") if p.last_seen else "never"
        state = "online " if p.online else "offline"
        print(
            f"  {state} {p.name or p.node_id:<20} {p.address:<22} last seen {seen}  "
            f"lacks {p.peer_lacks} / we lack {p.we_lack}" + (f"  ({p.last_error})" if p.last_error else "")
        )
    revoked = [t for t in st.terminals if t.revoked_at]
    print(f"  terminals: {len(st.terminals)} paired, {len(revoked)} revoked; alerts: {len(st.alerts)}")
    return 0


def _peers_for(services: Any, args: argparse.Namespace) -> list[str]:
    if getattr(args, "peer", None):
        return list(args.peer)
    peers = [f"{p.address}:{p.port}" for p in _peer_links(services)]
    env = [p.strip() for p in os.environ.get("VAULTSYNC_PEERS", "").split(",") if p.strip()]
    return sorted(set(peers + env))


def _peer_links(services: Any) -> list[Any]:
    from sqlalchemy import select

    from vaultsync.store.models import PeerLink

    with services.store.read() as s:
        return list(s.scalars(select(PeerLink)))


def _one_shot(services: Any, peers: list[str], action: str) -> list[dict[str, Any]]:
    from vaultsync.sync import pki
    from vaultsync.sync.node import one_shot

    identity = pki.load_identity(services.config.data_dir, node_id=services.store.node_id)
    return one_shot(services.store, identity, peers, action)


def _print_rounds(rounds: list[dict[str, Any]], as_json: bool) -> int:
    if as_json:
        print(json.dumps(rounds, default=str, indent=2))
    for r in rounds if not as_json else []:
        detail = r.get("error") or ", ".join(f"{k} {v}" for k, v in r.items() if k not in ("peer", "error"))
        print(f"{r['peer']}: {detail}")
    return 1 if any(r.get("error") or r.get("identical") is False for r in rounds) else 0


def cmd_sync_now(args: argparse.Namespace) -> int:
    services = _services(args)
    peers = _peers_for(services, args)
    if not peers:
        raise ValidationError("no known peers: pass --peer HOST:PORT (or let `vaultsync serve` find some)")
    return _print_rounds(_one_shot(services, peers, "pull"), args.json)


def cmd_sync_verify(args: argparse.Namespace) -> int:
    services = _services(args)
    peers = _peers_for(services, args)
    if not peers:
        raise ValidationError("no known peers: pass --peer HOST:PORT")
    return _print_rounds(_one_shot(services, peers, "verify"), args.json)


def cmd_sync_revoke(args: argparse.Namespace) -> int:
    services = _services(args)
    view = services.sync.revoke_cli(args.node_id)
    print(f"revoked terminal {view.name} ({view.node_id}); the revocation replicates to every peer")
    return 0


def cmd_sync_reidentify(args: argparse.Namespace) -> int:
    """Run with `vaultsync serve` stopped on this terminal (it holds the database and the port)."""
    from vaultsync.sync import reidentify
    from vaultsync.sync.discovery import parse_static_peer

    host, port = parse_static_peer(args.address)
    services = _services(args)
    result = reidentify.reidentify(
        services.store,
        services.config.data_dir,
        (host, port),
        args.code,
        pairing_port=args.pairing_port,
        name=args.name[:64] if args.name else None,
    )
    print(f"terminal {result.old_node} is now terminal {result.new_node}")
    print(f"  kept its changes up to #{result.kept_seq}; {result.rehomed} made after the restore renumbered")
    print(f"  the old id is revoked and a sync alert tells the managers ({result.reason})")
    for r in _one_shot(services, [f"{host}:{port}"], "pull"):
        detail = r.get("error") or f"{r.get('applied', 0)} changes recovered"
        print(f"  {r['peer']}: {detail}")
    return 0
