"""Printing SKU labels: on the station's ESC/POS printer (through the print queue, like
receipts) or as a PNG/PDF sheet to download and print on an office printer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from vaultsync.domain.enums import Finish, Role
from vaultsync.domain.errors import NotFoundError, ValidationError
from vaultsync.domain.money import format_cents
from vaultsync.hardware import labels as render
from vaultsync.hardware.labels import LabelData
from vaultsync.services.auth import UserView, require_role
from vaultsync.services.devices import DeviceService
from vaultsync.services.shop import ShopService
from vaultsync.store import Store
from vaultsync.store.models import CardSet, Product, Sku

MAX_COPIES = 100
FORMATS = ("png", "pdf")


@dataclass(frozen=True)
class LabelRequest:
    sku_id: str
    copies: int = 1


def _variant(sku: Sku) -> str | None:
    if sku.grader:
        return f"{sku.grader} {sku.grade or ''}".strip() + (f" #{sku.cert_number}" if sku.cert_number else "")
    finish = None if sku.finish == Finish.NORMAL.value else sku.finish.capitalize()
    language = None if sku.language == "EN" else sku.language
    return " · ".join(p for p in (sku.condition, finish, language) if p) or None


class LabelService:
    def __init__(self, store: Store, shop: ShopService, devices: DeviceService) -> None:
        self.store = store
        self.shop = shop
        self.devices = devices

    def labels(self, requests: Sequence[LabelRequest]) -> list[LabelData]:
        """The label contents for ``requests`` (each repeated ``copies`` times), in order."""
        if not requests:
            raise ValidationError("choose at least one item to label")
        for r in requests:
            if isinstance(r.copies, bool) or not isinstance(r.copies, int) or not 1 <= r.copies <= MAX_COPIES:
                raise ValidationError(f"copies must be from 1 to {MAX_COPIES}")
        if sum(r.copies for r in requests) > render.MAX_LABELS:
            raise ValidationError(f"at most {render.MAX_LABELS:,} labels at once")
        symbol = str(self.shop.get("shop.currency_symbol") or "$")
        ids = {r.sku_id for r in requests}
        with self.store.read() as s:
            found = {
                sku.id: (sku, product, card_set)
                for sku, product, card_set in s.execute(
                    select(Sku, Product, CardSet)
                    .join(Product, Product.id == Sku.product_id)
                    .outerjoin(CardSet, CardSet.id == Product.set_id)
                    .where(Sku.id.in_(ids))
                )
            }
        out = []
        for r in requests:
            if r.sku_id not in found:
                raise NotFoundError("no such SKU")
            sku, product, card_set = found[r.sku_id]
            value, symbology = render.choose_symbology(sku.barcode, sku.sku_code)
            set_text = None
            if card_set is not None:
                set_text = card_set.code + (
                    f" #{product.collector_number}" if product.collector_number else ""
                )
            label = LabelData(
                sku_code=sku.sku_code,
                name=product.name,
                set_text=set_text,
                variant=_variant(sku),
                price=format_cents(sku.shelf_price_cents, symbol),
                barcode_value=value,
                symbology=symbology,
            )
            out.extend([label] * r.copies)
        return out

    def sheet(self, requests: Sequence[LabelRequest], fmt: str, *, actor: UserView) -> bytes:
        """A printable sheet of labels as ``png`` or ``pdf`` bytes."""
        require_role(actor, Role.CASHIER)
        if fmt not in FORMATS:
            raise ValidationError(f"a label sheet is {' or '.join(FORMATS)}")
        data = self.labels(requests)
        return render.render_pdf(data) if fmt == "pdf" else render.render_png(data)

    def print(self, requests: Sequence[LabelRequest], station_id: str, *, actor: UserView) -> str:
        """Queue the labels for the station's ESC/POS printer; returns the print job id."""
        require_role(actor, Role.CASHIER)
        data = render.render_escpos(self.labels(requests))
        # the worker first, so the queue's "new job" wake-up reaches it (a worker started after
        # the enqueue would only find the job at its next idle poll)
        self.devices.ensure_worker(station_id)
        return self.devices.queue.enqueue(station_id, "label", requests[0].sku_id, data)
