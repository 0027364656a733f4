"""Test helpers for the sync network: shop CAs and terminal identities made in memory."""

from __future__ import annotations

import os
import socket

from vaultsync.sync import pki


def new_shop() -> tuple[str, object, object]:
    """(shop id, CA key, CA cert) of a fresh shop."""
    shop_id = os.urandom(16).hex()
    key, cert = pki.create_ca(shop_id, "Test Shop")
    return shop_id, key, cert


def identity(shop: tuple[str, object, object], node_id: str | None = None) -> pki.Identity:
    """A terminal identity signed by ``shop``'s CA."""
    shop_id, ca_key, ca_cert = shop
    node_id = node_id or os.urandom(8).hex()
    key = pki.new_node_key()
    cert = pki.issue_node_cert(
        ca_key,
        ca_cert,
        node_id=node_id,
        shop_id=shop_id,
        public_key_pem=pki.public_pem(key),  # type: ignore[arg-type]
    )
    return pki.Identity(
        node_id=node_id,
        shop_id=shop_id,
        ca_cert_pem=pki.cert_pem(ca_cert).decode(),  # type: ignore[arg-type]
        cert_pem=pki.cert_pem(cert).decode(),
        key_pem=pki.key_pem(key).decode(),
        ca_key_pem=pki.key_pem(ca_key).decode(),  # type: ignore[arg-type]
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
