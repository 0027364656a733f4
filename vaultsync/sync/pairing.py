"""Shop setup and pairing: how a terminal gets its certificate (DESIGN.md §4, §5).

``vaultsync shop init`` (:func:`init_shop`) creates the shop CA on the shop's first
terminal and gives that terminal its own certificate. That terminal keeps the CA key
and is the one that pairs new terminals: a manager asks it for a one-time code
(:func:`create_code`, shown by ``vaultsync pair`` and the sync screen) and types the
code on the new terminal (``vaultsync join HOST:PORT CODE`` → :func:`join`).

The pairing exchange runs over TLS on the pairing port (sync port + 1; the new terminal
has no certificate yet, so it cannot use the mutual-TLS sync port) and never sends the
code itself. Both sides derive a key from the code with scrypt (salted per code) and
prove knowledge of it with HMACs over fresh nonces from both sides (a "PAKE-lite"):

1. ``pair.begin``  client → nonce_c;            server → nonce_s, salt
2. ``pair.finish`` client → node id, name, public key,
                   HMAC(K, "client" | nonce_c | nonce_s | node id | H(public key))
                   server → certificate, CA certificate, shop id + name,
                   HMAC(K, "server" | nonce_c | nonce_s | H(cert) | H(CA) | shop id)

The client accepts the CA only if the server's proof verifies, so a fake pairing
server cannot hand out its own CA. Codes are single use, expire (10 minutes), are
burnt after :data:`MAX_FAILURES` wrong proofs, and wrong proofs are rate-limited
per pairing server, so guessing 8 characters (≈39 bits) online is hopeless; offline
guessing from a captured proof costs one scrypt per guess and must finish before the
code expires. The pairing writes the new terminal's ``nodes`` row (name, certificate
fingerprint, paired at), which replicates like any row — the same row later carries a
revocation.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pynng
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from vaultsync.domain.errors import AuthenticationError, ConflictError, ValidationError, VaultSyncError
from vaultsync.domain.ids import new_id
from vaultsync.store.database import Store
from vaultsync.store.models import Node, NodeState, PairingCode, Setting
from vaultsync.store.types import utcnow
from vaultsync.sync import pki, transport, wire
from vaultsync.sync.pki import CA_NAME_PREFIX

log = logging.getLogger(__name__)

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # no 0/O, 1/I/L, U: read aloud and typed by hand
CODE_LENGTH = 8
CODE_TTL = timedelta(minutes=10)
MAX_FAILURES = 5
#: wrong proofs accepted per minute per pairing server (all codes together)
FAILURES_PER_MINUTE = 10
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
SESSION_TTL = 60.0
MAX_SESSIONS = 32
NONCE = 32


class PairingError(VaultSyncError):
    http_status = 403


# --------------------------------------------------------------------------- shop setup


def adopt_shop(store: Store, shop_id: str) -> None:
    """Make this database part of shop ``shop_id`` (its mesh id); done once, when joining."""
    with store.uow() as uow:
        state = uow.session.get(NodeState, 1)
        if state is None:
            raise VaultSyncError("this database has no node identity; run `vaultsync migrate` first")
        state.shop_id = shop_id
    store.shop_id = shop_id
    store.factory.kw.setdefault("info", {})["shop_id"] = shop_id


def record_node(store: Store, node_id: str, name: str, cert: bytes) -> None:
    """Write (or refresh) a paired terminal's ``nodes`` row; replicated through change capture."""
    with store.uow() as uow:
        row = uow.session.get(Node, node_id)
        if row is None:
            row = Node(node_id=node_id, name=name[:64] or node_id)
            uow.session.add(row)
        else:
            row.name = name[:64] or row.name
        if row.revoked_at is not None:
            raise ConflictError(f"terminal {node_id} was revoked; pair it with a fresh database")
        row.cert_fingerprint = pki.fingerprint(cert)
        row.paired_at = utcnow()


def init_shop(store: Store, data_dir: Path, *, name: str) -> pki.Identity:
    """Create the shop CA and this terminal's certificate (the shop's first terminal)."""
    if pki.has_identity(data_dir):
        raise ConflictError(
            f"this terminal already belongs to a shop (certificates in {pki.sync_dir(data_dir)})"
        )
    ca_key, ca_cert = pki.create_ca(store.shop_id, name)
    key = pki.new_node_key()
    cert = pki.issue_node_cert(
        ca_key, ca_cert, node_id=store.node_id, shop_id=store.shop_id, public_key_pem=pki.public_pem(key)
    )
    pki.save_identity(
        data_dir,
        ca_cert=pki.cert_pem(ca_cert),
        node_cert=pki.cert_pem(cert),
        node_key=pki.key_pem(key),
        ca_key=pki.key_pem(ca_key),
    )
    record_node(store, store.node_id, name, pki.cert_pem(cert))
    return pki.load_identity(data_dir, node_id=store.node_id)


# --------------------------------------------------------------------------- codes


def normalize_code(code: str) -> str:
    text = "".join(ch for ch in code.upper() if ch.isalnum())
    if len(text) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in text):
        raise ValidationError(
            f"a pairing code is {CODE_LENGTH} characters like ABCD-EFGH (letters and digits 2-9)"
        )
    return text


def format_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def derive_key(code: str, salt: bytes) -> bytes:
    return hashlib.scrypt(normalize_code(code).encode(), salt=salt, dklen=32, **_SCRYPT)


@dataclass(frozen=True)
class IssuedCode:
    code: str  # formatted, shown once
    expires_at: datetime


def create_code(store: Store, *, user_id: str | None = None, ttl: timedelta = CODE_TTL) -> IssuedCode:
    """A new one-time pairing code; only its salted scrypt key is stored."""
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    salt = os.urandom(16)
    expires = utcnow() + ttl
    with store.uow() as uow:
        uow.add(
            PairingCode(
                id=new_id(),
                salt=salt.hex(),
                key=derive_key(code, salt).hex(),
                expires_at=expires,
                created_by=user_id,
                failed_attempts=0,
            )
        )
    return IssuedCode(format_code(code), expires)


def active_codes(store: Store) -> list[PairingCode]:
    now = utcnow()
    with store.read() as s:
        return list(
            s.scalars(
                select(PairingCode).where(
                    PairingCode.used_at.is_(None),
                    PairingCode.expires_at > now,
                    PairingCode.failed_attempts < MAX_FAILURES,
                )
            )
        )


def _client_proof(key: bytes, nc: bytes, ns: bytes, node_id: str, public_pem: bytes) -> bytes:
    msg = b"vaultsync-pair-client|" + nc + ns + node_id.encode() + hashlib.sha256(public_pem).digest()
    return hmac.new(key, msg, hashlib.sha256).digest()


def _server_proof(key: bytes, nc: bytes, ns: bytes, cert: bytes, ca: bytes, shop_id: str) -> bytes:
    msg = (
        b"vaultsync-pair-server|"
        + nc
        + ns
        + hashlib.sha256(cert).digest()
        + hashlib.sha256(ca).digest()
        + shop_id.encode()
    )
    return hmac.new(key, msg, hashlib.sha256).digest()


# --------------------------------------------------------------------------- server side


def _bytes(payload: dict[str, Any], name: str, size: int | None = None, max_len: int = 4096) -> bytes:
    value = payload.get(name)
    if not isinstance(value, bytes) or (size is not None and len(value) != size) or len(value) > max_len:
        raise ValidationError(f"pairing: bad {name}")
    return value


def _text(payload: dict[str, Any], name: str, max_len: int) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= max_len:
        raise ValidationError(f"pairing: bad {name}")
    return value


class PairingService:
    """Answers ``pair.begin`` / ``pair.finish`` on the terminal that holds the shop CA key."""

    def __init__(self, store: Store, identity: pki.Identity, shop_name: str = "") -> None:
        if identity.ca_key_pem is None:
            raise PairingError("this terminal holds no shop CA key; pair new terminals at the first one")
        self.store = store
        self.identity = identity
        self.shop_name = shop_name
        self._sessions: dict[bytes, tuple[bytes, list[str], float]] = {}  # nonce_s -> (nonce_c, code ids, t)
        self._failures: list[float] = []
        self._lock = threading.Lock()

    def handle(self, kind: str, payload: dict[str, Any], peer: str) -> dict[str, Any]:
        if kind == "pair.begin":
            return self._begin(payload)
        if kind == "pair.finish":
            return self._finish(payload)
        raise ValidationError(f"the pairing port answers pairing requests only, not {kind!r}")

    def _begin(self, payload: dict[str, Any]) -> dict[str, Any]:
        nc = _bytes(payload, "nonce", NONCE)
        ns = os.urandom(NONCE)
        now = time.monotonic()
        codes = active_codes(self.store)[:MAX_SESSIONS]
        with self._lock:
            self._sessions = {k: v for k, v in self._sessions.items() if now - v[2] < SESSION_TTL}
            if len(self._sessions) >= MAX_SESSIONS:
                raise PairingError("too many pairing attempts at once; try again in a minute")
            self._sessions[ns] = (nc, [c.id for c in codes], now)
        return {"nonce": ns, "codes": [bytes.fromhex(c.salt) for c in codes]}

    def _throttled(self) -> bool:
        now = time.monotonic()
        with self._lock:
            self._failures = [t for t in self._failures if now - t < 60]
            return len(self._failures) >= FAILURES_PER_MINUTE

    def _finish(self, payload: dict[str, Any]) -> dict[str, Any]:
        if self._throttled():
            raise PairingError("too many wrong pairing codes; wait a minute and ask for a new code")
        ns = _bytes(payload, "session", NONCE)
        with self._lock:
            session = self._sessions.pop(ns, None)
        if session is None:
            raise PairingError("pairing session unknown or expired; start again")
        nc, offered, _ = session
        node_id = _text(payload, "node_id", 32)
        name = _text(payload, "name", 64)
        public_pem = _bytes(payload, "public_key")
        proofs = payload.get("proofs")
        if not isinstance(proofs, list) or len(proofs) != len(offered):
            raise ValidationError("pairing: bad proofs")
        active = {c.id: c for c in active_codes(self.store)}
        match: PairingCode | None = None
        key = b""
        index = -1
        for i, (code_id, proof) in enumerate(zip(offered, proofs, strict=True)):
            code = active.get(code_id)
            if code is None or not isinstance(proof, bytes):
                continue
            candidate = bytes.fromhex(code.key)
            if hmac.compare_digest(_client_proof(candidate, nc, ns, node_id, public_pem), proof):
                match, key, index = code, candidate, i
                break
        if match is None:
            self._fail()
            raise AuthenticationError("wrong or expired pairing code")
        with self.store.read() as s:
            existing = s.get(Node, node_id)
            if existing is not None and existing.revoked_at is not None:
                raise PairingError(f"terminal {node_id} was revoked; pair it with a fresh database")
        ca_key = self.identity.ca_key()
        ca_cert = self.identity.ca_cert()
        cert = pki.cert_pem(
            pki.issue_node_cert(
                ca_key, ca_cert, node_id=node_id, shop_id=self.identity.shop_id, public_key_pem=public_pem
            )
        )
        with self.store.uow() as uow:
            row = uow.session.get(PairingCode, match.id)
            if row is None or row.used_at is not None:
                raise PairingError("this pairing code was just used by another terminal")
            row.used_at = utcnow()
            row.used_by_node = node_id
        record_node(self.store, node_id, name, cert)
        ca = self.identity.ca_cert_pem.encode()
        shop_id = self.identity.shop_id
        log.warning("pairing: terminal %s (%s) joined the shop", node_id, name)
        return {
            "cert": cert,
            "ca": ca,
            "shop_id": shop_id,
            "shop_name": self._shop_name(),
            "index": index,
            "proof": _server_proof(key, nc, ns, cert, ca, shop_id),
        }

    def _shop_name(self) -> str:
        """The shop's name setting, else the name the CA was created with."""
        if self.shop_name:
            return self.shop_name
        with self.store.read() as s:
            setting = s.get(Setting, "shop.name")
        if setting is not None and isinstance(setting.value, str) and setting.value:
            return setting.value
        cn = self.identity.ca_cert().subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(cn[0].value).removeprefix(CA_NAME_PREFIX).strip() if cn else ""

    def _fail(self) -> None:
        with self._lock:
            self._failures.append(time.monotonic())
        with self.store.uow() as uow:
            for code in uow.session.scalars(select(PairingCode).where(PairingCode.used_at.is_(None))):
                code.failed_attempts += 1
        log.warning("pairing: a wrong pairing code was tried")


def pairing_tls(identity: pki.Identity) -> pynng.TLSConfig:
    """Server TLS for the pairing port: the terminal's certificate, no client certificate asked."""
    cfg = pynng.TLSConfig(
        pynng.TLSConfig.MODE_SERVER, own_cert_string=identity.cert_pem, own_key_string=identity.key_pem
    )
    # pynng skips a falsy auth_mode argument (AUTH_MODE_NONE is 0): set it explicitly
    cfg.set_auth_mode(pynng.TLSConfig.AUTH_MODE_NONE)
    return cfg


def pairing_server(
    store: Store, identity: pki.Identity, *, host: str, port: int, shop_name: str = ""
) -> transport.Server:
    service = PairingService(store, identity, shop_name)
    return transport.Server(
        pairing_tls(identity),
        service.handle,
        host=host,
        port=port,
        workers=1,
        require_peer_cert=False,
        name="pairing",
    )


# --------------------------------------------------------------------------- client side


@dataclass(frozen=True)
class JoinResult:
    shop_id: str
    shop_name: str
    node_id: str
    identity: pki.Identity


def join(
    store: Store,
    data_dir: Path,
    host: str,
    port: int,
    code: str,
    *,
    name: str,
    timeout_ms: int = 15_000,
) -> JoinResult:
    """Pair this terminal with the shop terminal at ``host:port`` (its pairing port) using ``code``.

    On success the certificates are saved in the data directory and this database
    adopts the shop id; nothing is written before the server's proof is verified.
    """
    normalized = normalize_code(code)
    if pki.has_identity(data_dir):
        raise ConflictError(
            f"this terminal is already paired (certificates in {pki.sync_dir(data_dir)}); "
            "use a fresh data directory to join another shop"
        )
    # no CA yet to verify the server with: the server's HMAC proof below authenticates it
    cfg = pynng.TLSConfig(pynng.TLSConfig.MODE_CLIENT)
    cfg.set_auth_mode(pynng.TLSConfig.AUTH_MODE_NONE)  # pynng ignores auth_mode=0 in the constructor
    client = transport.Client(
        cfg,
        host,
        port,
        timeout_ms=timeout_ms,
        require_peer_cert=False,
        unavailable=PairingError,
        remote_error=PairingError,
    )
    client.open()
    try:
        nc = os.urandom(NONCE)
        begin = client.call("pair.begin", {"nonce": nc})
        ns = _bytes(begin, "nonce", NONCE)
        salts = begin.get("codes")
        if not isinstance(salts, list) or not salts:
            raise PairingError("that terminal has no active pairing code; ask for a new one")
        key_obj = pki.new_node_key()
        public = pki.public_pem(key_obj)
        # which active code is ours we cannot know: prove against each salt in one attempt
        keys: list[bytes] = []
        for salt in salts[:MAX_SESSIONS]:
            if not isinstance(salt, bytes) or len(salt) != 16:
                raise PairingError("the other terminal sent a malformed pairing offer")
            keys.append(hashlib.scrypt(normalized.encode(), salt=salt, dklen=32, **_SCRYPT))
        proofs = [_client_proof(k, nc, ns, store.node_id, public) for k in keys]
        reply = client.call(
            "pair.finish",
            {"session": ns, "node_id": store.node_id, "name": name, "public_key": public, "proofs": proofs},
        )
        index = reply.get("index")
        if not isinstance(index, int) or not 0 <= index < len(keys):
            raise PairingError("the other terminal sent a malformed pairing reply")
        used_key = keys[index]
        cert = _bytes(reply, "cert", max_len=8192)
        ca = _bytes(reply, "ca", max_len=8192)
        shop_id = _text(reply, "shop_id", 32)
        shop_name = str(reply.get("shop_name") or "")[:80]
        expected = _server_proof(used_key, nc, ns, cert, ca, shop_id)
        if not hmac.compare_digest(expected, _bytes(reply, "proof", 32)):
            raise PairingError("the other terminal could not prove it knows the code: not pairing with it")
    except wire.WireError as exc:
        raise PairingError(f"pairing failed: {exc}") from exc
    finally:
        client.close()
    pki.save_identity(data_dir, ca_cert=ca, node_cert=cert, node_key=pki.key_pem(key_obj), ca_key=None)
    try:
        identity = pki.load_identity(data_dir, node_id=store.node_id)
    except pki.PkiError:
        for n in (pki.CA_CERT, pki.NODE_CERT, pki.NODE_KEY):
            (pki.sync_dir(data_dir) / n).unlink(missing_ok=True)
        raise
    adopt_shop(store, shop_id)
    return JoinResult(shop_id, shop_name, store.node_id, identity)
