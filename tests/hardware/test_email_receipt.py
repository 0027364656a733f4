"""Email receipts against a real SMTP server (aiosmtpd) started on loopback by the test."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from vaultsync.domain.errors import ValidationError
from vaultsync.domain.receipt import Receipt
from vaultsync.hardware.email_receipt import (
    EmailError,
    SmtpSettings,
    send_receipt_email,
    subject_for,
    validate_email,
)
from vaultsync.services.shop import ShopService
from vaultsync.store import Store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    envelopes: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd hook name
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(e.content, policy=email.policy.default) for e in self.envelopes]


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(inbox, port)
    finally:
        controller.stop()


def _settings(port: int, **kw: Any) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1", port=port, starttls=False, sender="receipts@dragonshoard.example", timeout=3, **kw
    )


def test_receipt_email_is_delivered(smtp_server: SmtpServer, receipt: Receipt) -> None:
    send_receipt_email(receipt, "  bob@example.com ", _settings(smtp_server.port))
    [envelope] = smtp_server.inbox.envelopes
    assert envelope.mail_from == "receipts@dragonshoard.example"
    assert envelope.rcpt_tos == ["bob@example.com"]
    [msg] = smtp_server.inbox.messages()
    assert msg["To"] == "bob@example.com"
    assert msg["From"] == "Dragon's Hoard Cards <receipts@dragonshoard.example>"
    assert msg["Subject"] == "Your receipt T2-000123 from Dragon's Hoard Cards"
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    body = plain.get_content()
    assert "TOTAL" in body and "$181.57" in body
    assert "Charizard ex" in body and "NM · Foil" in body
    assert "$181.57" in html.get_content() and "T2-000123" in html.get_content()


def test_settings_from_the_shop(sqlite_store: Store, smtp_server: SmtpServer, receipt: Receipt) -> None:
    shop = ShopService(sqlite_store)
    with pytest.raises(EmailError, match="not set up"):
        send_receipt_email(receipt, "bob@example.com", shop.all())
    shop.set("smtp.host", "127.0.0.1")
    shop.set("smtp.port", smtp_server.port)
    shop.set("smtp.starttls", False)
    with pytest.raises(EmailError, match="sender address"):
        send_receipt_email(receipt, "bob@example.com", shop.all())
    shop.set("smtp.from", "shop@dragonshoard.example")
    send_receipt_email(receipt, "bob@example.com", shop.all())
    assert smtp_server.inbox.envelopes[0].mail_from == "shop@dragonshoard.example"


@pytest.mark.parametrize(
    "address",
    [
        "",
        "bob",
        "bob@",
        "@example.com",
        "bob@example",
        "bob@@example.com",
        "a b@example.com",
        "bob@example.com\r\nBcc: all@example.com",
        "bob..x@example.com",
    ],
)
def test_bad_address_is_a_clear_validation_error(
    smtp_server: SmtpServer, receipt: Receipt, address: str
) -> None:
    with pytest.raises(ValidationError, match="email address"):
        send_receipt_email(receipt, address, _settings(smtp_server.port))
    assert smtp_server.inbox.envelopes == []


def test_good_addresses() -> None:
    for address in ["bob@example.com", "bob.smith+cards@mail.example.co.uk", "o'neil@example.org"]:
        assert validate_email(address) == address


def test_smtp_down_is_a_clear_error(receipt: Receipt) -> None:
    port = _free_port()  # nothing listens here
    with pytest.raises(EmailError, match="connection refused"):
        send_receipt_email(receipt, "bob@example.com", _settings(port))


def test_starttls_required_but_not_offered(smtp_server: SmtpServer, receipt: Receipt) -> None:
    settings = SmtpSettings(host="127.0.0.1", port=smtp_server.port, starttls=True, sender="r@shop.example")
    with pytest.raises(EmailError, match="STARTTLS"):
        send_receipt_email(receipt, "bob@example.com", settings)
    assert smtp_server.inbox.envelopes == []


def test_login_rejected(receipt: Receipt) -> None:
    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"right"
        return AuthResult(success=ok, handled=False)

    inbox = Inbox()
    port = _free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    try:
        with pytest.raises(EmailError, match="refused the login"):
            send_receipt_email(receipt, "bob@example.com", _settings(port, username="shop", password="wrong"))
        send_receipt_email(receipt, "bob@example.com", _settings(port, username="shop", password="right"))
        assert len(inbox.envelopes) == 1
    finally:
        controller.stop()


def test_refund_subject(receipt: Receipt) -> None:
    from dataclasses import replace

    assert subject_for(replace(receipt, kind="refund")).startswith("Refund receipt T2-000123")
