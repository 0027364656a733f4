"""Catalog: games, sets, products and the SKUs that are actually stocked and sold."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vaultsync.store.base import Base, IdMixin, TimestampMixin
from vaultsync.store.types import CentsType, UTCDateTime


class Game(IdMixin, TimestampMixin, Base):
    """A game or category: Magic, Pokémon, sports cards, comics, supplies..."""

    __tablename__ = "games"
    __replication__ = "lww"

    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    #: tax category applied to products of this game unless the product says otherwise
    tax_category: Mapped[str] = mapped_column(String(32), default="standard")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class CardSet(IdMixin, TimestampMixin, Base):
    """A release within a game (set code as printed on the card: "DMU", "SV03", "LOB")."""

    __tablename__ = "card_sets"
    __replication__ = "lww"
    __table_args__ = (Index("ix_card_sets_game_code", "game_id", "code", unique=True),)

    game_id: Mapped[str] = mapped_column(ForeignKey("games.id"))
    code: Mapped[str] = mapped_column(String(24))
    name: Mapped[str] = mapped_column(String(120))
    released_on: Mapped[date | None] = mapped_column(Date, default=None)

    game: Mapped[Game] = relationship(lazy="joined")


class Product(IdMixin, TimestampMixin, Base):
    """What a card or item *is*, independent of condition, finish and grading."""

    __tablename__ = "products"
    __replication__ = "lww"
    __table_args__ = (
        Index("ix_products_name", "name"),
        Index("ix_products_set_number", "set_id", "collector_number"),
    )

    game_id: Mapped[str] = mapped_column(ForeignKey("games.id"), index=True)
    set_id: Mapped[str | None] = mapped_column(ForeignKey("card_sets.id"), default=None)
    kind: Mapped[str] = mapped_column(String(16))  # ProductKind
    name: Mapped[str] = mapped_column(String(200))
    collector_number: Mapped[str | None] = mapped_column(String(24), default=None)
    rarity: Mapped[str | None] = mapped_column(String(24), default=None)
    language: Mapped[str] = mapped_column(String(8), default="EN")
    image_path: Mapped[str | None] = mapped_column(String(400), default=None)
    #: None: inherit the game's tax category
    tax_category: Mapped[str | None] = mapped_column(String(32), default=None)
    #: free-form facts (artist, year, player/team, issue number, pack count...)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    game: Mapped[Game] = relationship(lazy="joined")
    card_set: Mapped[CardSet | None] = relationship(lazy="joined")
    skus: Mapped[list[Sku]] = relationship(back_populates="product")


class Sku(IdMixin, TimestampMixin, Base):
    """A sellable variant: condition × finish × language, or one graded slab.

    Prices are integer cents. ``market_price_cents`` comes from a price feed (with its
    source and as-of time); ``shelf_price_cents`` is what the register charges.
    """

    __tablename__ = "skus"
    __replication__ = "lww"

    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)
    sku_code: Mapped[str] = mapped_column(String(64), unique=True)
    condition: Mapped[str | None] = mapped_column(String(8), default=None)  # Condition
    finish: Mapped[str] = mapped_column(String(16), default="normal")  # Finish
    language: Mapped[str] = mapped_column(String(8), default="EN")
    grader: Mapped[str | None] = mapped_column(String(8), default=None)  # Grader
    grade: Mapped[str | None] = mapped_column(String(8), default=None)  # "10", "9.5", "A"
    sub_grades: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    cert_number: Mapped[str | None] = mapped_column(String(32), unique=True, default=None)
    barcode: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    #: slabs and one-offs: exactly one exists, it can be sold once
    serialized: Mapped[bool] = mapped_column(Boolean, default=False)
    #: bulk lots: how many cards one unit of stock stands for (e.g. 1, or 1000 for a box)
    unit_size: Mapped[int] = mapped_column(Integer, default=1)
    shelf_price_cents: Mapped[int] = mapped_column(CentsType, default=0)
    market_price_cents: Mapped[int | None] = mapped_column(CentsType, default=None)
    price_source: Mapped[str | None] = mapped_column(String(32), default=None)
    price_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    cost_basis_cents: Mapped[int | None] = mapped_column(CentsType, default=None)
    #: a manager fixed the shelf price by hand (a showcase card): imports, feeds and pricing
    #: rules never change it; the market price and its history still follow the feeds
    price_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    #: sales counter used as a popularity signal in search ranking
    popularity: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    notes: Mapped[str | None] = mapped_column(Text, default=None)

    product: Mapped[Product] = relationship(back_populates="skus", lazy="joined")
