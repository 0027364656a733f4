"""Customer look-up, balance and creation as the register uses them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.services.pos_fixtures import Pos, build_pos
from vaultsync.domain.errors import NotFoundError, PermissionDenied, ValidationError
from vaultsync.services.auth import UserView
from vaultsync.services.customers import CustomerService
from vaultsync.store import Store
from vaultsync.store.models import AuditEntry, Customer


@pytest.fixture
def pos(store: Store) -> Pos:
    return build_pos(store)


@pytest.fixture
def customers(pos: Pos) -> CustomerService:
    return CustomerService(pos.store)


def names(hits: list) -> list[str]:
    return [h.customer.name for h in hits]


def test_search_by_name_words_case_insensitive(pos: Pos, customers: CustomerService) -> None:
    customers.add("Ash", "Ketchum", "ash@pallet.example", "(555) 010-1234", actor=pos.cashier)
    customers.add("Ashley", "Oak", actor=pos.cashier)
    # the fixture's Ash Ketchum (with $50 credit) and the new one both match "ash ket"
    assert names(customers.search("ASH ket")) == ["Ash Ketchum", "Ash Ketchum"]
    assert set(names(customers.search("ash"))) == {"Ash Ketchum", "Ashley Oak"}
    assert customers.search("ash zzz") == []  # every word must match
    assert customers.search("   ") == []  # no query lists nobody


def test_search_by_email_and_phone_digits(pos: Pos, customers: CustomerService) -> None:
    added = customers.add(
        "Misty", "Waterflower", "Misty@Cerulean.example", "(555) 010-9876", actor=pos.cashier
    )
    assert added.email == "misty@cerulean.example"
    assert [h.customer.id for h in customers.search("cerulean")] == [added.id]
    assert [h.customer.id for h in customers.search("5550109876")] == [added.id]
    assert [h.customer.id for h in customers.search("010-98")] == [added.id]
    assert customers.search("%") == []  # LIKE wildcards are literal


def test_search_shows_store_credit_and_balance(pos: Pos, customers: CustomerService) -> None:
    hits = customers.search("ketchum")
    assert len(hits) == 1
    assert hits[0].balance_cents == 5000
    assert customers.balance(pos.customer_id) == 5000
    assert customers.balance(pos.exempt_id) == 0
    assert customers.get(pos.exempt_id).tax_exempt is True
    with pytest.raises(NotFoundError):
        customers.get("nope")
    with pytest.raises(NotFoundError):
        customers.balance("nope")


def test_search_limit(pos: Pos, customers: CustomerService) -> None:
    for i in range(5):
        customers.add("Brock", f"Harrison{i}", actor=pos.cashier)
    assert len(customers.search("brock", limit=3)) == 3
    with pytest.raises(ValidationError):
        customers.search("brock", limit=0)


def test_add_validates_and_audits(pos: Pos, customers: CustomerService) -> None:
    with pytest.raises(ValidationError, match="first name"):
        customers.add("  ", "X", actor=pos.cashier)
    with pytest.raises(ValidationError, match="not a valid email"):
        customers.add("Gary", "Oak", "gary-at-home", actor=pos.cashier)
    with pytest.raises(ValidationError, match="not a phone number"):
        customers.add("Gary", "Oak", phone="call me", actor=pos.cashier)
    with pytest.raises(ValidationError, match="at most"):
        customers.add("G" * 81, "Oak", actor=pos.cashier)
    gary = customers.add(" Gary ", " Oak ", "gary@oak.example", actor=pos.cashier)
    assert (gary.first_name, gary.last_name, gary.name) == ("Gary", "Oak", "Gary Oak")
    with pytest.raises(ValidationError, match="already exists"):
        customers.add("Other", "Gary", "GARY@oak.example", actor=pos.cashier)
    with pos.store.read() as s:
        assert s.scalar(select(Customer).where(Customer.id == gary.id)) is not None
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.entity_id == gary.id)))
    assert actions == ["customer.add"]


def test_add_needs_an_active_staff_member(pos: Pos, customers: CustomerService) -> None:
    disabled = UserView(**{**pos.cashier.__dict__, "is_active": False})
    with pytest.raises(PermissionDenied):
        customers.add("Eve", "Nope", actor=disabled)
