"""``/sync``: the manager's view of replication — peers, lag, alerts, pairing, revocation, sync now.

The questions a manager brings here are "is every register talking to the others?",
"did anything go wrong when they merged?" and "how do I add / remove a terminal?". So
the page leads with one status line, then a row per peer (online or not, when last
heard from, how many changes each side still lacks), then merge alerts, then the
terminals of the shop with a revoke button, and the pairing code on demand. It
refreshes itself every few seconds; nothing here blocks the event loop.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nicegui import ui

from ui.components import confirm
from ui.context import get_services, off_loop
from ui.layout import app_page, error_text
from ui.nav import SYNC_PATH
from ui.session import SessionUser
from vaultsync.domain.enums import Role
from vaultsync.services.sync import PeerView, SyncStatus, TerminalView

REFRESH_SECONDS = 3.0
DASH = "—"


def _ago(when: datetime | None) -> str:
    if when is None:
        return "never"
    seconds = int((datetime.now(UTC) - when).total_seconds())
    if seconds < 5:
        return "just now"
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 5400:
        return f"{seconds // 60} min ago"
    return when.strftime("%Y-%m-%d %H:%M")


PEER_COLUMNS: list[dict[str, Any]] = [
    {"name": "state", "label": "", "field": "state", "align": "center"},
    {"name": "name", "label": "Terminal", "field": "name", "align": "left", "classes": "font-medium"},
    {"name": "address", "label": "Address", "field": "address", "align": "left"},
    {"name": "seen", "label": "Last seen", "field": "seen", "align": "left"},
    {"name": "lacks", "label": "It lacks", "field": "lacks", "align": "right"},
    {"name": "we_lack", "label": "We lack", "field": "we_lack", "align": "right"},
    {"name": "error", "label": "Problem", "field": "error", "align": "left"},
]

STATE_SLOT = r"""
<q-td :props="props">
  <q-badge :color="props.value === 'online' ? 'positive' : 'grey-6'" :label="props.value"
           class="text-sm px-2 py-1" />
</q-td>
"""


def peer_rows(peers: list[PeerView]) -> list[dict[str, Any]]:
    return [
        {
            "id": p.node_id or p.address,
            "state": "online" if p.online else "offline",
            "name": p.name or p.node_id or "(not identified yet)",
            "address": f"{p.address} ({p.source})",
            "seen": _ago(p.last_seen),
            "lacks": p.peer_lacks,
            "we_lack": p.we_lack,
            "error": p.last_error or "",
        }
        for p in peers
    ]


class SyncScreen:
    def __init__(self, user: SessionUser) -> None:
        self.user = user
        self.services = get_services()
        self.status: SyncStatus | None = None
        #: dialogs are opened in here: the buttons that open them vanish on each refresh
        self.root: ui.element | None = None

    async def actor(self) -> Any:
        return await off_loop(self.services.auth.get, self.user.id)

    async def load(self) -> None:
        try:
            self.status = await off_loop(self.services.sync.view_status, actor=await self.actor())
        except Exception as exc:
            self.status = None
            ui.notify(error_text(exc), type="negative")
        self.render.refresh()

    @ui.refreshable_method
    def render(self) -> None:
        st = self.status
        if st is None:
            ui.label("Loading…").classes("text-slate-500")
            return
        self._summary(st)
        self._peers(st)
        self._alerts(st)
        self._terminals(st)

    def _summary(self, st: SyncStatus) -> None:
        with ui.card().classes("w-full p-4 gap-2").mark("sync-summary"):
            with ui.row().classes("items-center gap-3 w-full"):
                online = sum(1 for p in st.peers if p.online)
                if not st.paired:
                    icon, color, text = "link_off", "negative", "This terminal is not paired with a shop"
                elif st.identity_conflict:
                    icon, color, text = "gpp_bad", "negative", "Restored from a backup: sync is stopped"
                elif not st.running:
                    icon, color, text = "sync_disabled", "warning", "Sync is not running in this process"
                elif online == 0:
                    icon, color, text = "cloud_off", "warning", "No other terminal reachable: selling offline"
                else:
                    icon, color, text = "sync", "positive", f"In sync with {online} terminal(s)"
                ui.icon(icon, color=color).classes("text-4xl")
                ui.label(text).classes("text-xl font-semibold").mark("sync-state")
                ui.space()
                ui.button("Sync now", icon="sync", on_click=lambda: self.in_root(self.sync_now)).props(
                    "no-caps size=lg"
                ).mark("sync-now").set_enabled(st.running)
                if st.can_pair:
                    ui.button(
                        "Pair a terminal", icon="add_link", on_click=lambda: self.in_root(self.pair)
                    ).props("no-caps size=lg outline").mark("pair")
            details = [
                f"This terminal: {st.node_id}",
                f"listening on {st.listening}" if st.listening else "not listening",
                f"pairing on port {st.pairing_port}" if st.pairing_port else "",
                f"discovery: {st.discovery}",
            ]
            ui.label(" · ".join(d for d in details if d)).classes("text-slate-600").mark("sync-details")
            if st.problem:
                ui.label(st.problem).classes("text-negative").mark("sync-problem")
            if st.identity_conflict:
                ui.label(
                    "This register keeps selling, but its sales reach no other terminal until it is "
                    "re-identified: show a pairing code on the first terminal, stop VaultSync on this "
                    "one, run `vaultsync sync reidentify HOST:PORT CODE` here (HOST:PORT: the first "
                    "terminal's sync address) and start it again. Sales made here since the restore "
                    "are kept and then shared."
                ).classes("text-negative").mark("sync-reidentify")
            if st.refused_connections or st.rejected_messages:
                ui.label(
                    f"Refused {st.refused_connections} connection(s) and {st.rejected_messages} message(s); "
                    f"last: {st.last_rejection or DASH}"
                ).classes("text-warning").mark("sync-refused")

    def _peers(self, st: SyncStatus) -> None:
        ui.label("Peers").classes("text-lg font-semibold mt-2")
        if not st.peers:
            ui.label("No peers seen yet.").classes("text-slate-500").mark("no-peers")
            return
        table = ui.table(columns=PEER_COLUMNS, rows=peer_rows(st.peers), row_key="id").classes("w-full")
        table.add_slot("body-cell-state", STATE_SLOT)
        table.mark("peers")

    def _alerts(self, st: SyncStatus) -> None:
        ui.label("Merge alerts").classes("text-lg font-semibold mt-2")
        if not st.alerts:
            ui.label("No open alerts.").classes("text-slate-500").mark("no-alerts")
            return
        if st.alerts_open > len(st.alerts):
            ui.label(
                f"Showing the {len(st.alerts)} most urgent of {st.alerts_open} open alerts "
                f"({st.alerts_critical} critical)."
            ).classes("text-warning").mark("alerts-more")
        with ui.column().classes("w-full gap-2").mark("alerts"):
            for alert in st.alerts:
                with (
                    ui.card().classes("w-full p-3").mark(f"alert:{alert.id}"),
                    ui.row().classes("items-center w-full gap-3"),
                ):
                    ui.icon("warning", color="warning" if alert.severity != "critical" else "negative")
                    ui.label(alert.message).classes("text-base font-medium")
                    ui.space()
                    ui.label(_ago(alert.detected_at)).classes("text-slate-500")
                    ui.button("Resolved", on_click=lambda a=alert.id: self.in_root(self.resolve, a)).props(
                        "no-caps outline"
                    ).mark(f"resolve:{alert.id}")

    def _terminals(self, st: SyncStatus) -> None:
        ui.label("Terminals of this shop").classes("text-lg font-semibold mt-2")
        if not st.terminals:
            ui.label("No terminals recorded yet.").classes("text-slate-500")
            return
        with ui.column().classes("w-full gap-1").mark("terminals"):
            for t in st.terminals:
                self._terminal_row(t)

    def _terminal_row(self, t: TerminalView) -> None:
        with ui.row().classes("items-center w-full gap-3 py-1 border-b").mark(f"terminal:{t.node_id}"):
            ui.icon("computer", color="grey-7" if t.revoked_at else "primary")
            ui.label(t.name + (" (this terminal)" if t.is_self else "")).classes("text-base font-medium")
            ui.label(t.node_id).classes("text-slate-500 font-mono")
            ui.space()
            if t.revoked_at:
                ui.badge(f"revoked {t.revoked_at:%Y-%m-%d}", color="negative").mark(f"revoked:{t.node_id}")
            elif not t.is_self and self.user.role.at_least(Role.MANAGER):
                ui.button(
                    "Revoke",
                    icon="block",
                    color="negative",
                    on_click=lambda n=t: self.in_root(self.revoke, n),
                ).props("no-caps outline").mark(f"revoke:{t.node_id}")

    # -- actions ---------------------------------------------------------------------------

    async def in_root(self, action: Any, *args: Any) -> None:
        """Run a button's action in the page's stable element (the button may be refreshed away)."""
        assert self.root is not None
        with self.root:
            await action(*args)

    async def sync_now(self) -> None:
        try:
            rounds = await off_loop(self.services.sync.sync_now, actor=await self.actor())
        except Exception as exc:
            ui.notify(error_text(exc), type="negative")
            return
        failed = [r for r in rounds if r.error]
        applied = sum(r.applied for r in rounds)
        if not rounds:
            ui.notify("No peers to sync with", type="warning")
        elif failed:
            ui.notify(f"{len(failed)} of {len(rounds)} peer(s) failed: {failed[0].error}", type="warning")
        else:
            ui.notify(f"Synced with {len(rounds)} peer(s), {applied} change(s) received", type="positive")
        await self.load()

    async def pair(self) -> None:
        try:
            issued = await off_loop(self.services.sync.create_pairing_code, actor=await self.actor())
        except Exception as exc:
            ui.notify(error_text(exc), type="negative")
            return
        st = self.status
        port = st.pairing_port if st and st.pairing_port else "PORT"
        with ui.dialog() as dialog, ui.card().classes("p-6 items-center gap-3 max-w-lg"):
            ui.label("Pairing code").classes("text-lg font-semibold")
            ui.label(issued.code).classes("text-5xl font-mono tracking-widest").mark("pairing-code")
            ui.label(f"One use, valid until {issued.expires_at:%H:%M} UTC.").classes("text-slate-600")
            ui.label(f"On the new terminal run:  vaultsync join THIS-TERMINAL:{port} {issued.code}").classes(
                "font-mono text-sm"
            ).mark("pairing-join")
            ui.button("Done", on_click=dialog.close).props("no-caps size=lg")
        dialog.open()

    async def revoke(self, terminal: TerminalView) -> None:
        ok = await confirm(
            f"Revoke {terminal.name}?",
            "It will no longer sync with any terminal of this shop, and its connections are dropped. "
            "Its past sales stay. To use it again, it must be paired with a fresh database.",
            ok_label="Revoke",
            marker="revoke-confirm",
        )
        if not ok:
            return
        try:
            await off_loop(self.services.sync.revoke, terminal.node_id, actor=await self.actor())
        except Exception as exc:
            ui.notify(error_text(exc), type="negative")
            return
        ui.notify(f"{terminal.name} revoked", type="positive")
        await self.load()

    async def resolve(self, alert_id: str) -> None:
        try:
            await off_loop(self.services.sync.resolve_alert, alert_id, actor=await self.actor())
        except Exception as exc:
            ui.notify(error_text(exc), type="negative")
            return
        await self.load()


def register() -> None:
    """Add the ``/sync`` page."""

    @app_page(SYNC_PATH, title="Sync", min_role=Role.MANAGER)
    async def sync_page(user: SessionUser) -> None:
        screen = SyncScreen(user)
        screen.root = ui.element("div")
        with ui.column().classes("w-full gap-3").mark("sync-page"):
            screen.render()
        await screen.load()
        ui.timer(REFRESH_SECONDS, screen.load)
