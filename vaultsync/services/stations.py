"""Stations: which terminal this is, its receipt prefix, printer and drawer."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from vaultsync.domain.enums import Role, StationRole
from vaultsync.domain.errors import NotFoundError, ValidationError
from vaultsync.services import audit
from vaultsync.services.auth import UserView, require_role
from vaultsync.store import Store
from vaultsync.store.models import Station


@dataclass(frozen=True)
class StationView:
    id: str
    name: str
    role: str
    receipt_prefix: str
    printer_uri: str | None
    has_drawer: bool
    node_id: str | None

    @classmethod
    def of(cls, st: Station) -> StationView:
        return cls(st.id, st.name, st.role, st.receipt_prefix, st.printer_uri, st.has_drawer, st.node_id)


class StationService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def list(self) -> list[StationView]:
        with self.store.read() as s:
            return [StationView.of(st) for st in s.scalars(select(Station).order_by(Station.name))]

    def get(self, station_id: str) -> StationView:
        with self.store.read() as s:
            st = s.get(Station, station_id)
            if st is None:
                raise NotFoundError("no such station")
            return StationView.of(st)

    def local(self, role: StationRole) -> StationView:
        """This terminal's station, created the first time the terminal serves.

        Its receipt prefix comes from the node id ("A3F9-000123"), so two terminals set
        up offline at the same time cannot both pick the same prefix and collide when
        their receipts replicate.
        """
        with self.store.uow() as uow:
            st = uow.session.scalar(select(Station).where(Station.node_id == self.store.node_id).limit(1))
            if st is None:
                prefix = self.store.node_id[:4].upper()
                taken = set(uow.session.scalars(select(Station.receipt_prefix)))
                n = 4
                while prefix in taken and n < len(self.store.node_id):
                    n += 1
                    prefix = self.store.node_id[:n].upper()[:8]
                st = Station(
                    name=f"Terminal {prefix}",
                    role=role.value,
                    node_id=self.store.node_id,
                    receipt_prefix=prefix,
                    printer_uri="dummy://",
                    has_drawer=role is StationRole.CASHIER,
                )
                uow.add(st)
                uow.flush()
                audit.record(
                    uow.session,
                    "station.create",
                    entity_type="station",
                    entity_id=st.id,
                    after={"name": st.name, "prefix": prefix},
                )
            return StationView.of(st)

    def update(
        self,
        station_id: str,
        *,
        name: str | None = None,
        printer_uri: str | None = None,
        has_drawer: bool | None = None,
        actor: UserView | None = None,
    ) -> StationView:
        """Change a station's name, printer or drawer. ``actor`` None is the local CLI."""
        from vaultsync.hardware.printers import parse_printer_uri

        if actor is not None:
            require_role(actor, Role.MANAGER)
        if printer_uri is not None:
            parse_printer_uri(printer_uri)  # ValidationError with the accepted forms
        if name is not None and not 1 <= len(name.strip()) <= 64:
            raise ValidationError("a station name is 1-64 characters")
        with self.store.uow() as uow:
            st = uow.session.get(Station, station_id)
            if st is None:
                raise NotFoundError("no such station")
            before = {"name": st.name, "printer_uri": st.printer_uri, "has_drawer": st.has_drawer}
            if name is not None:
                st.name = name.strip()
            if printer_uri is not None:
                st.printer_uri = printer_uri.strip() or None
            if has_drawer is not None:
                st.has_drawer = has_drawer
            audit.record(
                uow.session,
                "station.update",
                user_id=actor.id if actor else None,
                entity_type="station",
                entity_id=st.id,
                before=before,
                after={"name": st.name, "printer_uri": st.printer_uri, "has_drawer": st.has_drawer},
            )
            return StationView.of(st)
