"""Customers at the counter: find one fast, see their store credit, add a new one.

The register attaches a customer to a sale (store credit tender, tax exemption, refunds
to store credit, "show me this customer's recent sales"), so the look-up has to work on
whatever the cashier hears across the counter: part of a name, an email, a phone number
typed with or without spaces and dashes. Every word typed must match one of the fields,
so "ash ket" finds Ash Ketchum but not every Ash.

The balance comes from the ``customer_balances`` cache that checkout and refunds keep in
the same transaction as each credit entry; the ledger itself stays the source of truth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select

from vaultsync.domain.enums import Role
from vaultsync.domain.errors import NotFoundError, ValidationError
from vaultsync.services import audit
from vaultsync.services.auth import UserView, require_role
from vaultsync.store import Store
from vaultsync.store.models import Customer, CustomerBalance

MAX_RESULTS = 100
MAX_QUERY = 200
MAX_NAME = 80
MAX_EMAIL = 200
MAX_PHONE = 32
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_PHONE_RE = re.compile(r"^\+?[0-9 ()./-]{5,32}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class CustomerView:
    """A customer as the screens see it (no ID-capture details: those are for the buylist desk)."""

    id: str
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    tax_exempt: bool
    is_active: bool

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @classmethod
    def of(cls, c: Customer) -> CustomerView:
        return cls(c.id, c.first_name, c.last_name or "", c.email, c.phone, bool(c.tax_exempt), c.is_active)


@dataclass(frozen=True)
class CustomerHit:
    """A search result: the customer and their store credit, so the picker can show both."""

    customer: CustomerView
    balance_cents: int


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class CustomerService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def search(self, text: str, limit: int = 20) -> list[CustomerHit]:
        """Active customers whose name, email or phone match every word of ``text``.

        Case-insensitive substring matching per word; a word of digits also matches the
        phone number with its punctuation ignored ("555 0101" finds "(555) 010-1234").
        An empty query lists nobody: the register never dumps the whole customer list.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RESULTS:
            raise ValidationError(f"limit is 1 to {MAX_RESULTS}")
        words = (text or "").strip().lower().split()
        if not words:
            return []
        if len(text) > MAX_QUERY or _CONTROL.search(text):
            raise ValidationError("that search is too long or contains control characters")
        phone_digits = func.replace(
            func.replace(
                func.replace(
                    func.replace(func.replace(func.coalesce(Customer.phone, ""), " ", ""), "-", ""), "(", ""
                ),
                ")",
                "",
            ),
            ".",
            "",
        )
        conditions = []
        for word in words:
            pattern = f"%{_escape_like(word)}%"
            fields = [
                func.lower(Customer.first_name).like(pattern, escape="\\"),
                func.lower(Customer.last_name).like(pattern, escape="\\"),
                func.lower(func.coalesce(Customer.email, "")).like(pattern, escape="\\"),
                func.lower(func.coalesce(Customer.phone, "")).like(pattern, escape="\\"),
            ]
            digits = _digits(word)
            if digits and len(digits) == len(word.lstrip("+")):
                fields.append(phone_digits.like(f"%{digits}%"))
            conditions.append(or_(*fields))
        with self.store.read() as s:
            rows = s.execute(
                select(Customer, func.coalesce(CustomerBalance.balance_cents, 0))
                .outerjoin(CustomerBalance, CustomerBalance.customer_id == Customer.id)
                .where(Customer.is_active.is_(True), and_(*conditions))
                .order_by(func.lower(Customer.last_name), func.lower(Customer.first_name), Customer.id)
                .limit(limit)
            ).all()
            return [CustomerHit(CustomerView.of(c), int(balance)) for c, balance in rows]

    def get(self, customer_id: str) -> CustomerView:
        with self.store.read() as s:
            c = s.get(Customer, customer_id) if isinstance(customer_id, str) and customer_id else None
            if c is None:
                raise NotFoundError("no such customer")
            return CustomerView.of(c)

    def balance(self, customer_id: str) -> int:
        """Store credit in cents (0 for a customer who never had any)."""
        with self.store.read() as s:
            if not isinstance(customer_id, str) or s.get(Customer, customer_id) is None:
                raise NotFoundError("no such customer")
            row = s.get(CustomerBalance, customer_id)
            return row.balance_cents if row is not None else 0

    def add(
        self,
        first_name: str,
        last_name: str,
        email: str | None = None,
        phone: str | None = None,
        *,
        actor: UserView,
    ) -> CustomerView:
        """Create a customer at the counter (audited).

        A second active customer with the same email is refused: the email is how the
        counter finds them again and where their receipts go, so it must point at one person.
        """
        require_role(actor, Role.CASHIER)
        first = _clean(first_name, "first name", MAX_NAME, required=True)
        last = _clean(last_name, "last name", MAX_NAME, required=False)
        mail = _clean(email, "email", MAX_EMAIL, required=False)
        tel = _clean(phone, "phone", MAX_PHONE, required=False)
        if mail is not None:
            mail = mail.lower()
            if not _EMAIL_RE.match(mail):
                raise ValidationError(f"{mail!r} is not a valid email address")
        if tel is not None and (not _PHONE_RE.match(tel) or len(_digits(tel)) < 5):
            raise ValidationError(f"{tel!r} is not a phone number")
        with self.store.uow() as uow:
            s = uow.session
            if mail is not None and s.scalar(
                select(Customer.id).where(func.lower(Customer.email) == mail, Customer.is_active.is_(True))
            ):
                raise ValidationError(f"a customer with the email {mail} already exists")
            customer = Customer(first_name=first, last_name=last or "", email=mail, phone=tel)
            uow.add(customer)
            uow.flush()
            audit.record(
                s,
                "customer.add",
                user_id=actor.id,
                entity_type="customer",
                entity_id=customer.id,
                after={"name": f"{first} {last or ''}".strip()},
            )
            return CustomerView.of(customer)


def _clean(value: str | None, what: str, max_len: int, *, required: bool) -> str | None:
    if value is None or not str(value).strip():
        if required:
            raise ValidationError(f"a customer needs a {what}")
        return None
    if not isinstance(value, str):
        raise ValidationError(f"the {what} must be text")
    text = " ".join(value.split())
    if len(text) > max_len or _CONTROL.search(text):
        raise ValidationError(f"the {what} is at most {max_len} characters of plain text")
    return text
