"""Certificates for benchmark terminals, signed directly by the first terminal's shop CA.

Pairing itself (one-time codes, proofs over the network) is measured by the tests; the
load benchmarks set up dozens of terminals and only need each to hold a certificate of
the shop and be known to the first terminal, as pairing would leave them.
"""

from __future__ import annotations

from pathlib import Path

from vaultsync.store import Store
from vaultsync.sync import pairing, pki


def enroll(first: Store, ca: pki.Identity, store: Store, data_dir: Path, name: str) -> None:
    """Give ``store``'s terminal a certificate of ``ca``'s shop in ``data_dir`` and record it on ``first``."""
    pairing.adopt_shop(store, first.shop_id)
    key = pki.new_node_key()
    cert = pki.issue_node_cert(
        ca.ca_key(),
        ca.ca_cert(),
        node_id=store.node_id,
        shop_id=ca.shop_id,
        public_key_pem=pki.public_pem(key),
    )
    pki.save_identity(
        data_dir,
        ca_cert=ca.ca_cert_pem.encode(),
        node_cert=pki.cert_pem(cert),
        node_key=pki.key_pem(key),
        ca_key=None,
    )
    pairing.record_node(first, store.node_id, name, pki.cert_pem(cert))
