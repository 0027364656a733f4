"""Pricing service: imports under rules and the volatility guard, reviews, manual prices, buylist guard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.services.pricing_fixtures import Shop, build_shop
from vaultsync.domain.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from vaultsync.services.pricing import ReviewDecision, RuleInput
from vaultsync.store import Store
from vaultsync.store.models import AuditEntry, Change, PriceReview, PriceUpdate, Sku
from vaultsync.store.types import utcnow


@pytest.fixture
def shop(store: Store) -> Shop:
    return build_shop(store)


def sku(shop: Shop, sku_id: str) -> Sku:
    with shop.store.read() as s:
        row = s.get(Sku, sku_id)
        assert row is not None
        return row


def ledger(shop: Shop, sku_id: str | None = None) -> list[PriceUpdate]:
    with shop.store.read() as s:
        q = select(PriceUpdate).order_by(PriceUpdate.created_at, PriceUpdate.hlc)
        if sku_id:
            q = q.where(PriceUpdate.sku_id == sku_id)
        return list(s.scalars(q))


def pending(shop: Shop) -> dict[str, PriceReview]:
    with shop.store.read() as s:
        return {r.sku_id: r for r in s.scalars(select(PriceReview).where(PriceReview.status == "pending"))}


def magic_rule(shop: Shop, **kw: object) -> None:
    values: dict[str, object] = {
        "name": "Magic singles",
        "game_id": shop.game_id,
        "markup_bps": 11_000,
        "rounding": "49_99",
    }
    values.update(kw)
    shop.pricing.save_rule(RuleInput(**values), actor=shop.manager)  # type: ignore[arg-type]


CSV = "SKU,TCG Market Price\n"


def test_import_applies_small_moves_holds_big_ones_and_refreshes_unchanged(shop: Shop) -> None:
    magic_rule(shop)
    before_lp_row = sku(shop, shop.lp)
    before_lp = before_lp_row.price_as_of
    with shop.store.read() as s:
        seq0 = s.scalar(select(func.max(Change.seq))) or 0
    text = (
        CSV
        + "MTG-DMU-107-NM,71.00\nMTG-DMU-107-LP,60.00\nMTG-DMU-107-NM-F,200.00\n"
        + "MTG-M10-146-NM,1.50\nMTG-DMU-1-NM,4.00\n"
    )
    report = shop.pricing.import_file(text.encode(), actor=shop.manager, source="tcgplayer-csv")
    assert report.committed and report.refused is None
    assert (report.lines, report.prices, report.applied, report.held, report.unchanged) == (5, 5, 3, 1, 1)
    nm = sku(shop, shop.nm)
    # $71.00 × 1.10 = $78.10 -> up to $78.49
    assert (nm.market_price_cents, nm.shelf_price_cents, nm.price_source) == (7100, 7849, "tcgplayer-csv")
    # +50 % but only $0.50: under the $2 guard amount; $1.65 -> $1.99
    assert (sku(shop, shop.bolt).market_price_cents, sku(shop, shop.bolt).shelf_price_cents) == (150, 199)
    # a first price is never held: $4.00 × 1.1 = $4.40 -> $4.49
    assert sku(shop, shop.fresh).shelf_price_cents == 449
    # the foil's +67 % / +$80 is held: market and shelf stay, a review waits
    foil = sku(shop, shop.foil)
    assert (foil.market_price_cents, foil.shelf_price_cents) == (12000, 12999)
    review = pending(shop)[shop.foil]
    assert (review.old_cents, review.proposed_cents, review.source) == (12000, 20000, "tcgplayer-csv")
    assert "up 67%" in (review.reason or "")
    # unchanged: the price age is refreshed (by the import's confirmation), the SKU row is not touched
    lp = sku(shop, shop.lp)
    assert lp.market_price_cents == 6000 and before_lp is not None
    assert (lp.price_as_of, lp.updated_at) == (before_lp, before_lp_row.updated_at)
    view = shop.pricing.sku_prices(shop.lp)
    assert view.price_as_of is not None and view.price_as_of > before_lp
    assert view.price_source == "tcgplayer-csv" and not view.stale
    with shop.store.read() as s:
        assert not s.scalar(
            select(func.count()).where(Change.table_name == "skus", Change.pk == shop.lp, Change.seq > seq0)
        )
    # every change is in the ledger with source, old, new, batch and who
    [entry] = ledger(shop, shop.nm)
    assert (entry.field, entry.old_cents, entry.new_cents, entry.shelf_old_cents, entry.shelf_new_cents) == (
        "market",
        7000,
        7100,
        7499,
        7849,
    )
    assert (
        entry.batch_id == report.batch_id
        and entry.user_id == shop.manager.id
        and entry.source == "tcgplayer-csv"
    )
    assert ledger(shop, shop.foil) == [] and ledger(shop, shop.lp) == []
    with shop.store.read() as s:
        assert (
            s.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "pricing.import")
            )
            == 1
        )
        # and everything went through change capture (replicates)
        logged = set(s.scalars(select(Change.pk).where(Change.table_name.in_(["skus", "price_updates"]))))
    assert {shop.nm, shop.lp, shop.bolt, entry.id} <= logged


def test_a_file_with_bad_rows_changes_nothing_unless_only_valid_rows_are_chosen(shop: Shop) -> None:
    text = (
        CSV
        + "MTG-DMU-107-NM,71.00\n"
        + "NOPE-1,5.00\n"  # unknown SKU
        + "MTG-DMU-107-LP,-3.00\n"  # negative
        + "MTG-M10-146-NM,0.00\n"  # zero is not a market price: the guard never lets it through
        + "MTG-DMU-1-NM,99999999999\n"  # overflow
        + "MTG-DMU-107-NM-F,20000000.00\n"  # $20M: not a real market price
        + "MTG-DMU-107-NM,72.00\n"  # priced twice
    )
    changes_before = _change_count(shop)
    report = shop.pricing.import_file(text, actor=shop.manager)
    assert not report.committed and report.refused and "nothing was imported" in report.refused
    assert report.error_count == 6
    assert sorted(e.line for e in report.errors) == [3, 4, 5, 6, 7, 8]
    assert sku(shop, shop.nm).market_price_cents == 7000
    assert ledger(shop) == [] and _change_count(shop) == changes_before
    report = shop.pricing.import_file(text, actor=shop.manager, valid_only=True)
    assert report.committed and report.applied == 1 and report.error_count == 6
    assert sku(shop, shop.nm).market_price_cents == 7100
    assert sku(shop, shop.bolt).market_price_cents == 100


def _change_count(shop: Shop) -> int:
    with shop.store.read() as s:
        return int(s.scalar(select(func.count()).select_from(Change)) or 0)


def test_dry_run_previews_and_writes_nothing(shop: Shop) -> None:
    before = _change_count(shop)
    report = shop.pricing.import_file(
        CSV + "MTG-DMU-107-NM,71.00\nMTG-DMU-107-NM-F,200.00\n", actor=shop.manager, dry_run=True
    )
    assert report.dry_run and not report.committed and report.applied == 1 and report.held == 1
    actions = {p.sku_code: (p.action, p.new_market_cents, p.new_shelf_cents) for p in report.preview}
    assert actions == {"MTG-DMU-107-NM": ("apply", 7100, 7100), "MTG-DMU-107-NM-F": ("hold", 20000, 12999)}
    assert _change_count(shop) == before and pending(shop) == {}


def test_tcgplayer_export_matched_by_set_number_condition_and_finish(shop: Shop) -> None:
    text = (
        "TCGplayer Id,Product Line,Set Name,Product Name,Number,Condition,TCG Market Price\n"
        "1,Magic: The Gathering,Dominaria United,Sheoldred,107,Lightly Played,61.00\n"
        "2,Magic: The Gathering,DMU,Sheoldred,107,Near Mint Foil,121.00\n"
        "3,Magic: The Gathering,Dominaria United,Sheoldred,107,Damaged,20.00\n"  # not stocked: skipped
        "4,Magic: The Gathering,XYZ,Nothing,5,Near Mint,1.00\n"  # unknown set code: error
    )
    report = shop.pricing.import_file(text, actor=shop.manager)
    assert report.refused and [e.line for e in report.errors] == [5]
    assert "unknown set 'XYZ'" in report.errors[0].message
    report = shop.pricing.import_file(text, actor=shop.manager, valid_only=True)
    assert report.applied == 2 and report.skipped == 1
    assert sku(shop, shop.lp).market_price_cents == 6100
    assert sku(shop, shop.foil).market_price_cents == 12100


def test_pricecharting_export_uses_condition_multipliers_and_grades(shop: Shop) -> None:
    text = (
        "id,console-name,product-name,loose-price,graded-price,manual-only-price\n"
        "1,Magic: The Gathering Dominaria United,Sheoldred #107,$72.00,,\n"
        "2,Pokemon Base Set,Charizard #4,$400.00,,$9500.00\n"
    )
    report = shop.pricing.import_file(text, actor=shop.manager)
    assert report.committed, report.errors
    assert sku(shop, shop.nm).market_price_cents == 7200
    assert sku(shop, shop.lp).market_price_cents == 6120  # 85 % of NM
    assert sku(shop, shop.foil).market_price_cents == 12000  # loose price is the normal printing
    assert sku(shop, shop.slab).market_price_cents == 950000  # PSA 10 column


def test_html_instead_of_csv_is_refused_whole(shop: Shop) -> None:
    report = shop.pricing.import_file(b"<!doctype html><html>Sign in</html>", actor=shop.manager)
    assert not report.committed and report.refused and "HTML" in report.refused
    with pytest.raises(ValidationError, match="binary"):
        shop.pricing.import_file(b"\x00\x01\x02garbage", actor=shop.manager)


def test_only_managers_import_and_edit_rules(shop: Shop) -> None:
    with pytest.raises(PermissionDenied):
        shop.pricing.import_file(CSV, actor=shop.cashier)
    with pytest.raises(PermissionDenied):
        shop.pricing.save_rule(RuleInput(name="x"), actor=shop.cashier)


def test_rules_are_validated_and_unique_per_scope(shop: Shop) -> None:
    magic_rule(shop)
    with pytest.raises(ConflictError, match="scope"):
        magic_rule(shop, name="again")
    with pytest.raises(ValidationError, match="markup"):
        shop.pricing.save_rule(RuleInput(name="silly", markup_bps=10), actor=shop.manager)
    with pytest.raises(ValidationError, match="condition"):
        shop.pricing.save_rule(RuleInput(name="bad", condition="MINT"), actor=shop.manager)
    [rule] = shop.pricing.rules()
    updated = shop.pricing.save_rule(
        RuleInput(name="Magic", game_id=shop.game_id, markup_bps=12_000), actor=shop.manager, rule_id=rule.id
    )
    assert updated.markup_bps == 12_000 and updated.game == "Magic: The Gathering"
    shop.pricing.delete_rule(rule.id, actor=shop.manager)
    assert shop.pricing.rules() == []


def test_cost_and_minimum_floors_on_import(shop: Shop) -> None:
    magic_rule(shop, min_price_cents=25, rounding="none")
    # bolt's market falls to $0.20: × 1.1 = $0.22, raised to the $0.25 minimum, and the shop
    # paid $0.30 for it: never below cost
    shop.pricing.import_file(CSV + "MTG-M10-146-NM,0.20\n", actor=shop.manager)
    bolt = sku(shop, shop.bolt)
    assert (bolt.market_price_cents, bolt.shelf_price_cents) == (20, 30)
    [entry] = ledger(shop, shop.bolt)
    assert entry.note == "shelf floor: minimum+cost"


def test_reviews_are_accepted_rejected_and_edited_in_bulk(shop: Shop) -> None:
    magic_rule(shop)
    shop.pricing.import_file(
        CSV + "MTG-DMU-107-NM,140.00\nMTG-DMU-107-LP,20.00\nMTG-DMU-107-NM-F,200.00\n", actor=shop.manager
    )
    page = shop.pricing.reviews()
    assert page.total == 3
    by_sku = {r.sku_id: r for r in page.rows}
    assert by_sku[shop.nm].move_pct == 100.0
    result = shop.pricing.decide(
        [
            ReviewDecision(by_sku[shop.nm].id, "accept"),
            ReviewDecision(by_sku[shop.lp].id, "reject"),
            ReviewDecision(by_sku[shop.foil].id, "edit", 15000),
        ],
        actor=shop.manager,
    )
    assert (result.accepted, result.rejected, result.edited) == (1, 1, 1)
    nm, lp, foil = sku(shop, shop.nm), sku(shop, shop.lp), sku(shop, shop.foil)
    assert (nm.market_price_cents, nm.shelf_price_cents) == (14000, 15449)  # 154.00 -> .49
    assert (lp.market_price_cents, lp.shelf_price_cents) == (6000, 6299)  # rejected: unchanged
    assert (foil.market_price_cents, foil.shelf_price_cents) == (15000, 16549)
    assert shop.pricing.reviews().total == 0
    done = {r.sku_id: r for r in shop.pricing.reviews(status="edited").rows}
    assert done[shop.foil].final_cents == 15000
    [entry] = ledger(shop, shop.nm)
    assert entry.review_id == by_sku[shop.nm].id and entry.user_id == shop.manager.id
    with pytest.raises(ConflictError, match="already"):
        shop.pricing.decide([ReviewDecision(by_sku[shop.nm].id, "accept")], actor=shop.manager)
    with pytest.raises(ValidationError):
        shop.pricing.decide([ReviewDecision(by_sku[shop.lp].id, "edit", 0)], actor=shop.manager)
    with pytest.raises(NotFoundError):
        shop.pricing.decide([ReviewDecision("nope", "accept")], actor=shop.manager)


def test_later_moves_update_or_supersede_the_pending_review(shop: Shop) -> None:
    shop.pricing.import_file(CSV + "MTG-DMU-107-NM-F,200.00\n", actor=shop.manager)
    first = pending(shop)[shop.foil]
    shop.pricing.import_file(CSV + "MTG-DMU-107-NM-F,210.00\n", actor=shop.manager)
    again = pending(shop)[shop.foil]
    assert again.id == first.id and again.proposed_cents == 21000
    # the spike went away: a move within the guard applies and the review is moot
    shop.pricing.import_file(CSV + "MTG-DMU-107-NM-F,121.00\n", actor=shop.manager)
    assert pending(shop) == {}
    with shop.store.read() as s:
        assert s.get(PriceReview, first.id).status == "superseded"  # type: ignore[union-attr]
    assert sku(shop, shop.foil).market_price_cents == 12100


def test_accept_whole_queue(shop: Shop) -> None:
    shop.pricing.import_file(CSV + "MTG-DMU-107-NM,140.00\nMTG-DMU-107-NM-F,200.00\n", actor=shop.manager)
    result = shop.pricing.decide_all_pending("accept", actor=shop.manager)
    assert result.accepted == 2 and shop.pricing.reviews().total == 0
    with pytest.raises(ValidationError):
        shop.pricing.decide_all_pending("accept", actor=shop.manager)


def test_shelf_price_below_cost_needs_a_managers_override(shop: Shop) -> None:
    with pytest.raises(ConflictError, match="below the cost"):
        shop.pricing.set_shelf_price(shop.nm, 3000, actor=shop.manager)
    with pytest.raises(PermissionDenied):
        shop.pricing.set_shelf_price(shop.nm, 3000, actor=shop.cashier, allow_below_cost=True)
    view = shop.pricing.set_shelf_price(
        shop.nm, 3000, actor=shop.manager, allow_below_cost=True, reason="damaged corner"
    )
    assert view.shelf_price_cents == 3000
    entry = ledger(shop, shop.nm)[-1]
    assert (entry.field, entry.old_cents, entry.new_cents, entry.source) == ("shelf", 7499, 3000, "manual")
    assert entry.note and "below cost" in entry.note and "damaged corner" in entry.note
    with shop.store.read() as s:
        audit_row = s.scalars(select(AuditEntry).where(AuditEntry.action == "pricing.below_cost")).one()
    assert audit_row.approved_by == shop.manager.id
    # above cost: no override needed
    assert shop.pricing.set_shelf_price(shop.nm, 8000, actor=shop.manager).shelf_price_cents == 8000


def test_manual_market_price_reprices_and_supersedes(shop: Shop) -> None:
    magic_rule(shop)
    shop.pricing.import_file(CSV + "MTG-DMU-107-NM-F,200.00\n", actor=shop.manager)
    view = shop.pricing.set_market_price(shop.foil, 13000, actor=shop.manager)
    assert (view.market_price_cents, view.shelf_price_cents) == (13000, 14349)
    assert pending(shop) == {}


def test_buylist_guard(shop: Shop) -> None:
    assert shop.pricing.buylist_guard(shop.nm) == (None, ())
    assert shop.pricing.buylist_guard(shop.fresh) == (None, ("no_market",))
    # a held spike: volatile, capped at the lowest known market
    shop.pricing.import_file(CSV + "MTG-DMU-107-NM-F,200.00\n", actor=shop.manager)
    cap, flags = shop.pricing.buylist_guard(shop.foil)
    assert (cap, flags) == (12000, ("volatile",))
    # a big move accepted recently stays volatile for the window
    shop.pricing.decide_all_pending("accept", actor=shop.manager)
    assert shop.pricing.buylist_guard(shop.foil) == (12000, ("volatile",))
    # stale: nobody confirmed the price for weeks -> 80 % of it
    with shop.store.uow() as uow:
        row = uow.session.get(Sku, shop.lp)
        assert row is not None
        row.price_as_of = utcnow() - timedelta(days=30)
    assert shop.pricing.buylist_guard(shop.lp) == (4800, ("stale",))
    with pytest.raises(NotFoundError):
        shop.pricing.buylist_guard("nope")


def test_spike_warning_and_price_view(shop: Shop) -> None:
    assert shop.pricing.price_warning(shop.nm) is None
    shop.pricing.import_file(CSV + "MTG-DMU-107-NM-F,200.00\n", actor=shop.manager)
    warning = shop.pricing.price_warning(shop.foil)
    assert warning and "$200.00" in warning and "$129.99" in warning
    view = shop.pricing.sku_prices(shop.foil)
    assert view.pending_review is not None and view.warning == warning
    assert view.age_days is not None and 0.9 < view.age_days < 1.1 and not view.stale
    shop.pricing.import_file(CSV + "MTG-DMU-107-NM,71.00\n", actor=shop.manager)
    history = shop.pricing.sku_prices(shop.nm).history
    assert [(h.field, h.old_cents, h.new_cents) for h in history] == [("market", 7000, 7100)]


def test_an_import_that_raced_a_price_change_writes_nothing(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaultsync.services import price_import

    original = price_import.PriceImporter._match

    def match_then_someone_edits(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        shop.pricing.set_shelf_price(shop.lp, 6500, actor=shop.manager)  # while the file is being checked

    monkeypatch.setattr(price_import.PriceImporter, "_match", match_then_someone_edits)
    report = shop.pricing.import_file(CSV + "MTG-DMU-107-NM,71.00\n", actor=shop.manager)
    assert not report.committed and report.refused and "changed while" in report.refused
    assert sku(shop, shop.nm).market_price_cents == 7000


def test_a_sale_during_an_import_does_not_refuse_it(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    from vaultsync.services import price_import

    original = price_import.PriceImporter._match

    def match_then_popularity(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        with shop.store.uow() as uow:  # what a sale does to a SKU: not a price
            row = uow.session.get(Sku, shop.lp)
            assert row is not None
            row.popularity += 1

    monkeypatch.setattr(price_import.PriceImporter, "_match", match_then_popularity)
    report = shop.pricing.import_file(CSV + "MTG-DMU-107-NM,71.00\n", actor=shop.manager)
    assert report.committed
