"""Audit log (admins only): who did what, filtered by kind and user, newest first."""

from __future__ import annotations

from typing import Any

import flet as ft

from aegis_app.views.base import BaseView
from aegis_app.views.components import Pager, local_time, page_header, section_card

PAGE_SIZE = 50
ALL = "all"


def kind_label(kind: str) -> str:
    return kind.replace("_", " ").capitalize()


def detail_text(event: dict[str, Any]) -> str:
    """The detail, led by "N times:" for a row standing for N events (refused sign-ins).

    First, not last: the detail column is cut off at the window's edge, and the count is
    the figure an administrator scans for."""
    detail = str(event.get("detail") or "")
    count = int(event.get("count") or 1)
    return f"{count} times: {detail}" if count > 1 else detail


class AuditView(BaseView):
    route = "/audit"
    title = "Audit log"
    admin_only = True
    in_navigation = True
    icon = ft.Icons.RECEIPT_LONG_OUTLINED

    def build(self) -> ft.Control:
        self.pager = Pager(PAGE_SIZE, self.load, back="Newer", forward="Older")
        self.kind = ft.Dropdown(
            label="Kind",
            width=220,
            value=ALL,
            options=[ft.DropdownOption(key=ALL, text="All kinds")],
            on_select=self._filter,
        )
        self.user = ft.Dropdown(
            label="User",
            width=260,
            value=ALL,
            options=[ft.DropdownOption(key=ALL, text="All users")],
            on_select=self._filter,
        )
        self.table = ft.DataTable(
            columns=[
                ft.DataColumn(label="Time"),
                ft.DataColumn(label="Kind"),
                ft.DataColumn(label="Actor"),
                ft.DataColumn(label="Target"),
                ft.DataColumn(label="IP"),
                ft.DataColumn(label="Detail"),
            ],
            rows=[],
        )
        self.empty = ft.Text("No events match these filters.", visible=False)
        return ft.Column(
            spacing=16,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            controls=[
                page_header("Audit log", "Sign-ins, sessions and changes, newest first."),
                ft.Row([self.kind, self.user], wrap=True),
                self.error_text,
                section_card(
                    ft.Row([self.table], scroll=ft.ScrollMode.AUTO), self.empty, padding=8
                ),
                self.pager.control,
            ],
        )

    async def on_enter(self, params: dict[str, str]) -> None:
        self.params = params
        # The table first: a failure loading the filter lists must stay on screen.
        await self.load()
        kinds = await self.call_api(self.state.api.get("/audit/kinds"))
        if kinds:
            self.kind.options = [ft.DropdownOption(key=ALL, text="All kinds")] + [
                ft.DropdownOption(key=k, text=kind_label(k)) for k in kinds
            ]
        users = await self.call_api(self.state.api.get("/users", limit=200))
        if users:
            self.user.options = [ft.DropdownOption(key=ALL, text="All users")] + [
                ft.DropdownOption(key=str(u["id"]), text=u["email"]) for u in users["items"]
            ]

    async def load(self) -> None:
        query: dict[str, Any] = {"offset": self.pager.offset, "limit": PAGE_SIZE}
        if self.kind.value and self.kind.value != ALL:
            query["kind"] = self.kind.value
        if self.user.value and self.user.value != ALL:
            query["user_id"] = self.user.value
        page: dict[str, Any] | None = await self.call_api(self.state.api.get("/audit", **query))
        if page is None:
            return
        items = page.get("items", [])
        self.table.rows = [
            ft.DataRow(
                cells=[
                    ft.DataCell(ft.Text(local_time(e.get("at"), with_seconds=True))),
                    ft.DataCell(ft.Text(kind_label(str(e.get("kind", ""))))),
                    ft.DataCell(ft.Text(e.get("actor_email") or "—")),
                    ft.DataCell(ft.Text(e.get("target") or "—")),
                    ft.DataCell(ft.Text(e.get("ip") or "—")),
                    ft.DataCell(ft.Text(detail_text(e))),
                ]
            )
            for e in items
        ]
        self.empty.visible = not items
        self.pager.show(int(page.get("total", 0)))

    async def _filter(self, _: ft.Event[ft.Dropdown]) -> None:
        await self.pager.first_page()
