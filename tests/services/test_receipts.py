from __future__ import annotations

import pytest

from tests.services.pos_fixtures import build_pos
from vaultsync.domain.enums import Tender
from vaultsync.domain.errors import NotFoundError
from vaultsync.services.checkout import TenderInput
from vaultsync.services.receipts import ReceiptService
from vaultsync.services.refunds import RefundService, ReturnLine
from vaultsync.store import Store


def test_receipt_document_of_a_sale_and_its_refund(sqlite_store: Store) -> None:
    pos = build_pos(sqlite_store)
    pos.shop.set("shop.name", "Dragon's Hoard")
    pos.shop.set("shop.address", "1 Main St")
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    pos.checkout.attach_customer(cart.id, pos.customer_id, actor=pos.cashier)
    pos.checkout.scan(cart.id, "111111111111", actor=pos.cashier)
    pos.checkout.add_custom(cart.id, "Playmat", 2000, reason="consignment", actor=pos.cashier)
    sale = pos.checkout.complete(
        cart.id,
        [TenderInput(Tender.CARD, 5000, "APP-9"), TenderInput(Tender.CASH, 6000)],
        actor=pos.cashier,
        client_request_id="rcpt",
    )
    receipts = ReceiptService(sqlite_store, pos.shop)
    r = receipts.for_number(sale.number)
    assert r.number == "T1-000001" and r.shop_name == "Dragon's Hoard" and r.header_lines == ["1 Main St"]
    assert r.cashier == "Sam Cashier" and r.station == "Register 1" and r.customer == "Ash Ketchum"
    assert [li.description for li in r.lines] == ["Sheoldred [DMU 107] (NM)", "Playmat"]
    assert r.lines[1].detail == "consignment"
    assert r.total_cents == sale.total_cents
    assert [(t.label, t.amount_cents, t.reference) for t in r.tenders] == [
        ("Card", 5000, "APP-9"),
        ("Cash", 6000, None),
    ]
    assert r.change_cents == sale.change_cents and not r.reprint
    assert receipts.for_number(sale.number, reprint=True).reprint
    refund = RefundService(sqlite_store, pos.auth, pos.shop).refund(
        sale.number,
        [ReturnLine(RefundService(sqlite_store, pos.auth, pos.shop).lookup(sale.number).lines[1].line_id, 1)],
        actor=pos.cashier,
        station_id=pos.station_id,
        client_request_id="rf",
    )
    rr = receipts.for_number(refund.number)
    assert rr.kind == "refund" and rr.original_number == sale.number and rr.total_cents < 0
    with pytest.raises(NotFoundError):
        receipts.for_number("T1-999999")
