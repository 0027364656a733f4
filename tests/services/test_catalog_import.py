"""CSV import of catalog and stock: preview, per-row errors, all-or-nothing, only-valid rows."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.services.pos_fixtures import Pos, build_pos
from vaultsync.domain.errors import PermissionDenied, ValidationError
from vaultsync.services.catalog import CatalogService
from vaultsync.services.catalog_import import TEMPLATE_HEADER, CatalogImportService
from vaultsync.store import Store
from vaultsync.store.models import AuditEntry, Change, Product, Sku, StockLevel


@pytest.fixture
def pos(store: Store) -> Pos:
    return build_pos(store)


@pytest.fixture
def importer(pos: Pos) -> CatalogImportService:
    return CatalogImportService(pos.store, CatalogService(pos.store))


GOOD = f"""{TEMPLATE_HEADER}
MTG,Ornithopter,single,DMU,230,common,EN,NM,normal,,,,,4006381333931,,0.25,0.05,100,Main › Case 1
MTG,Ornithopter,single,DMU,230,common,EN,NM,foil,,,,,,,1.50,0.40,10,Case 1
MTG,Black Lotus,graded,,,,EN,,,PSA,8,centering=8;corners=9,77777777,,,"25,000.00",15000,1,Case 1
MTG,DMU Booster Box,sealed,DMU,,,EN,,,,,,,,,119.99,80,6,Main/Case 1
,,,,,,,,,,,,,,MTG-DMU-107-NM,80.00,50.00,1,Case 1
"""


def count(store: Store, model: object) -> int:
    with store.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)  # type: ignore[arg-type]


def on_hand(store: Store, sku_id: str) -> int:
    with store.read() as s:
        return int(s.scalar(select(func.sum(StockLevel.on_hand)).where(StockLevel.sku_id == sku_id)) or 0)


def test_dry_run_previews_and_writes_nothing(pos: Pos, importer: CatalogImportService) -> None:
    changes = count(pos.store, Change)
    report = importer.run(GOOD, actor=pos.manager)
    assert report.errors == []
    assert (report.rows, report.valid_rows) == (5, 5)
    assert (report.products_created, report.skus_created, report.skus_updated) == (3, 4, 1)
    assert report.units_received == 118
    assert report.dry_run and not report.committed
    assert [p["action"] for p in report.preview] == ["new item"] * 4 + ["add stock"]
    assert count(pos.store, Change) == changes


def test_import_creates_products_skus_and_stock(pos: Pos, importer: CatalogImportService) -> None:
    report = importer.run(GOOD.encode("utf-8-sig"), actor=pos.manager, dry_run=False)
    assert report.committed
    with pos.store.read() as s:
        ornithopter = s.scalars(select(Product).where(Product.name == "Ornithopter")).all()
        assert len(ornithopter) == 1  # two rows, one product
        skus = {
            sku.sku_code: sku for sku in s.scalars(select(Sku).where(Sku.product_id == ornithopter[0].id))
        }
        assert set(skus) == {"MTG-DMU-230-NM", "MTG-DMU-230-NM-F"}
        slab = s.scalars(select(Sku).where(Sku.cert_number == "77777777")).one()
        assert (slab.grader, slab.grade, slab.serialized, slab.shelf_price_cents) == (
            "PSA",
            "8",
            True,
            2_500_000,
        )
        assert slab.sub_grades == {"centering": "8", "corners": "9"}
        assert s.scalar(select(AuditEntry.id).where(AuditEntry.action == "catalog.import"))
    assert on_hand(pos.store, skus["MTG-DMU-230-NM"].id) == 100
    assert skus["MTG-DMU-230-NM"].cost_basis_cents == 5
    # existing SKU: 3 @ 40.00 + 1 @ 50.00 -> 42.50, price updated
    with pos.store.read() as s:
        nm = s.get(Sku, pos.nm_id)
        assert nm is not None
        assert (nm.cost_basis_cents, nm.shelf_price_cents) == (4250, 8000)
    assert on_hand(pos.store, pos.nm_id) == 4


BAD = f"""{TEMPLATE_HEADER}
MTG,Good Card,single,DMU,1,,EN,NM,,,,,,,,1.00,0.50,2,Case 1
MTG,Bad Set,single,ZZZ,1,,EN,NM,,,,,,,,1.00,,,
MTG,Negative Cost,single,DMU,2,,EN,NM,,,,,,,,1.00,-0.50,1,Case 1
MTG,Huge Price,single,DMU,3,,EN,NM,,,,,,,,99999999999999999,,,
MTG,Too few fields,single
MTG,Dup Cert,graded,,,,EN,,,PSA,10,,55555555,,,10,,1,Case 1
MTG,Bad Barcode,single,DMU,4,,EN,NM,,,,,,4006381333932,,1,,,
XYZ,Unknown Game,single,,,,EN,NM,,,,,,,,1,,,
MTG,No Condition,single,DMU,5,,EN,,,,,,,,,1,,,
MTG,Nowhere,single,DMU,6,,EN,NM,,,,,,,,1,,3,Attic
"""


def test_bad_rows_are_reported_and_nothing_is_imported(pos: Pos, importer: CatalogImportService) -> None:
    skus = count(pos.store, Sku)
    report = importer.run(BAD, actor=pos.manager, dry_run=False)
    assert not report.committed
    assert report.valid_rows == 1
    by_row = {e.row: (e.column, e.message) for e in report.errors}
    assert by_row[3][0] == "set_code" and "unknown set code 'ZZZ'" in by_row[3][1]
    assert by_row[4] == ("cost", "cost cannot be negative")
    assert by_row[5][0] == "price" and "too large" in by_row[5][1]
    assert "expected 19 fields" in by_row[6][1]
    assert by_row[7][0] == "cert_number" and "possible fraud" in by_row[7][1]
    assert "check digit" in by_row[8][1]
    assert "unknown game" in by_row[9][1]
    assert "condition" in by_row[10][1]
    assert by_row[11][0] == "location"
    assert report.error_rows == 9
    assert count(pos.store, Sku) == skus  # all-or-nothing
    with pos.store.read() as s:  # the duplicate certificate is flagged even though nothing imported
        assert s.scalar(select(AuditEntry.id).where(AuditEntry.action == "catalog.cert_duplicate"))


def test_only_valid_rows_when_the_manager_says_so(pos: Pos, importer: CatalogImportService) -> None:
    skus = count(pos.store, Sku)
    report = importer.run(BAD, actor=pos.manager, dry_run=False, only_valid=True)
    assert report.committed
    assert count(pos.store, Sku) == skus + 1
    with pos.store.read() as s:
        good = s.scalars(select(Sku).join(Product).where(Product.name == "Good Card")).one()
    assert on_hand(pos.store, good.id) == 2


def test_duplicates_within_the_file(pos: Pos, importer: CatalogImportService) -> None:
    data = f"""{TEMPLATE_HEADER}
MTG,A,single,DMU,1,,EN,NM,,,,,,,NEW-1,1,,,
MTG,B,single,DMU,2,,EN,NM,,,,,,,NEW-1,1,,,
MTG,S1,graded,,,,EN,,,PSA,10,,88888888,,,1,,,
MTG,S2,graded,,,,EN,,,PSA,10,,88888888,,,1,,,
"""
    report = importer.run(data, actor=pos.manager)
    assert {e.row for e in report.errors} == {3, 5}


def test_file_level_problems(pos: Pos, importer: CatalogImportService) -> None:
    with pytest.raises(ValidationError, match="empty"):
        importer.run("", actor=pos.manager)
    with pytest.raises(ValidationError, match="unknown column"):
        importer.run("name,colour\nx,red\n", actor=pos.manager)
    with pytest.raises(ValidationError, match="UTF-8"):
        importer.run(b"name\n\xff\xfe\n", actor=pos.manager)
    with pytest.raises(ValidationError, match="NUL"):
        importer.run("name\nab\x00c\n", actor=pos.manager)
    with pytest.raises(PermissionDenied):
        importer.run(GOOD, actor=pos.cashier)


def test_default_location_for_rows_without_one(pos: Pos, importer: CatalogImportService) -> None:
    data = "game,name,condition,quantity\nMTG,Loose Card,NM,4\n"
    report = importer.run(data, actor=pos.manager)
    assert report.errors[0].column == "location"
    report = importer.run(data, actor=pos.manager, dry_run=False, default_location_id=pos.case_id)
    assert report.committed and report.units_received == 4
