"""The manager's sync screen: state, pairing code, revocation, role guard."""

from __future__ import annotations

import pytest
from nicegui.testing import User

from tests.sync.net_helpers import free_port
from tests.ui.conftest import eventually, label_text, login_password, login_pin, services
from tests.ui.seed import CASHIER, MANAGER
from vaultsync.store.models import Node
from vaultsync.sync import pairing, pki, protocol, reidentify
from vaultsync.sync.apply import vector_clock
from vaultsync.sync.node import SyncNode

OTHER = "00000000000000aa"


async def test_an_unpaired_terminal_says_so(user: User) -> None:
    await login_password(user, MANAGER)
    await user.open("/sync")
    await user.should_see(marker="sync-summary", retries=40)
    assert label_text(user, "sync-state") == "This terminal is not paired with a shop"
    assert "shop init" in label_text(user, "sync-problem")
    await user.should_not_see(marker="pair")


async def test_a_manager_gets_a_pairing_code_and_revokes_a_terminal(user: User) -> None:
    svc = services()
    svc.sync.init_shop("Card Castle")
    ca = pki.load_identity(svc.config.data_dir)
    key = pki.new_node_key()
    cert = pki.issue_node_cert(
        ca.ca_key(), ca.ca_cert(), node_id=OTHER, shop_id=ca.shop_id, public_key_pem=pki.public_pem(key)
    )
    pairing.record_node(svc.store, OTHER, "Register 2", pki.cert_pem(cert))

    await login_password(user, MANAGER)
    await user.open("/sync")
    await user.should_see(marker="sync-summary", retries=40)
    assert label_text(user, "sync-state") == "Sync is not running in this process"
    await user.should_see(marker=f"terminal:{svc.store.node_id}")
    await user.should_see("Card Castle (this terminal)")

    user.find(marker="pair").click()
    await user.should_see(marker="pairing-code", retries=40)
    code = label_text(user, "pairing-code")
    assert pairing.normalize_code(code)  # a well-formed one-time code
    assert code in label_text(user, "pairing-join")
    assert len(pairing.active_codes(svc.store)) == 1

    user.find(marker=f"revoke:{OTHER}").click()
    await user.should_see(marker="revoke-confirm-ok")
    user.find(marker="revoke-confirm-ok").click()
    await user.should_see(marker=f"revoked:{OTHER}", retries=40)

    def revoked() -> bool:
        with svc.store.read() as s:
            row = s.get(Node, OTHER)
            return row is not None and row.revoked_at is not None

    await eventually(revoked)
    await user.should_not_see(marker=f"revoke:{svc.store.node_id}")  # no button to revoke itself


async def test_a_restored_terminal_shows_that_sync_is_stopped_and_what_to_do(
    user: User, caplog: pytest.LogCaptureFixture
) -> None:
    svc = services()
    ident = svc.sync.init_shop("Card Castle")
    node = SyncNode(svc.store, ident, host="127.0.0.1", port=free_port(), zeroconf=False, interval=3600)
    node.start()
    svc.sync.node = node
    try:
        # a peer's hello says it holds more of this terminal's changes than its database has
        hello = protocol.handle(svc.store, "hello", {})
        hello["node_id"] = OTHER
        hello["clock"] = {svc.store.node_id: vector_clock(svc.store).get(svc.store.node_id, 0) + 5}
        with pytest.raises(reidentify.RestoredTerminal):
            node._handle("hello", hello, OTHER)  # what the server does with that peer's hello
        assert node.identity_conflict is not None
        # logged as an error for the shop's logs; expected here (the harness fails on errors)
        assert any("restored from an older backup" in r.getMessage() for r in caplog.records)
        caplog.clear()

        await login_password(user, MANAGER)
        await user.open("/sync")
        await user.should_see(marker="sync-summary", retries=40)
        assert label_text(user, "sync-state") == "Restored from a backup: sync is stopped"
        assert "restored from an older backup" in label_text(user, "sync-problem")
        assert "vaultsync sync reidentify" in label_text(user, "sync-reidentify")
        health = svc.sync.status()
        assert health.identity_conflict is not None and OTHER in health.identity_conflict
    finally:
        svc.sync.node = None
        node.stop()


async def test_a_cashier_may_not_open_the_sync_screen(user: User) -> None:
    await login_pin(user, CASHIER)
    await user.open("/sync")
    await user.should_see(marker="forbidden", retries=40)
