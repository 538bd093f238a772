"""Users (admins only): search, create, change role, deactivate and reactivate."""

from __future__ import annotations

from typing import Any

import flet as ft

from aegis_app.views.base import BaseView
from aegis_app.views.components import Pager, local_time, page_header, section_card

PAGE_SIZE = 25


class UsersView(BaseView):
    route = "/users"
    title = "Users"
    admin_only = True
    in_navigation = True
    icon = ft.Icons.PEOPLE_OUTLINE

    def build(self) -> ft.Control:
        self.pager = Pager(PAGE_SIZE, self.load)
        self.search = ft.TextField(
            label="Search users",
            prefix_icon=ft.Icons.SEARCH,
            width=320,
            on_submit=self._search,
        )
        self.notice = ft.Text("", visible=False, selectable=True)
        self.table = ft.DataTable(
            expand=True,
            columns=[
                ft.DataColumn(label="Name"),
                ft.DataColumn(label="Email"),
                ft.DataColumn(label="Role"),
                ft.DataColumn(label="Status"),
                ft.DataColumn(label="Created"),
                ft.DataColumn(label="Actions"),
            ],
            rows=[],
        )
        self.form = _CreateUserForm(self)
        return ft.Column(
            spacing=16,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            controls=[
                page_header(
                    "Users",
                    "Who can sign in, and what they may do.",
                    self.search,
                ),
                self.error_text,
                self.notice,
                section_card(ft.Row([self.table], scroll=ft.ScrollMode.AUTO), padding=8),
                self.pager.control,
                self.form.control,
            ],
        )

    async def on_enter(self, params: dict[str, str]) -> None:
        self.params = params
        await self.load()

    async def load(self) -> None:
        page: dict[str, Any] | None = await self.call_api(
            self.state.api.get(
                "/users",
                search=self.search.value or "",
                offset=self.pager.offset,
                limit=PAGE_SIZE,
            )
        )
        if page is None:
            return
        self.table.rows = [self._row(user) for user in page.get("items", [])]
        self.pager.show(int(page.get("total", 0)))

    def say(self, message: str) -> None:
        self.notice.value = message
        # Selectable text has no accessible name of its own (see ``show_error``).
        self.notice.semantics_label = message or None
        self.notice.visible = bool(message)

    async def _search(self, _: ft.Event[ft.TextField]) -> None:
        await self.pager.first_page()

    async def _update_user(self, user: dict[str, Any], change: dict[str, Any], done: str) -> None:
        self.say("")
        if await self.call_api(self.state.api.patch(f"/users/{user['id']}", change)) is None:
            return  # keep the refusal in view: a reload's success would clear it
        self.say(done)
        await self.load()

    def _row(self, user: dict[str, Any]) -> ft.DataRow:
        active = bool(user.get("is_active"))
        is_admin = user.get("role") == "admin"

        async def change_role(_: ft.Event[ft.TextButton]) -> None:
            role = "viewer" if is_admin else "admin"
            await self._update_user(
                user,
                {"role": role},
                f"{user['full_name']} is now {'an admin' if role == 'admin' else 'a viewer'}.",
            )

        async def toggle_active(_: ft.Event[ft.TextButton]) -> None:
            word = "reactivated" if not active else "deactivated; their sessions were ended"
            await self._update_user(
                user, {"is_active": not active}, f"{user['full_name']} was {word}."
            )

        async def end_sessions(_: ft.Event[ft.TextButton]) -> None:
            self.say("")
            ended = await self.call_api(self.state.api.delete(f"/users/{user['id']}/sessions"))
            if ended is not None:
                self.say(f"Ended {ended.get('ended', 0)} session(s) of {user['full_name']}.")

        return ft.DataRow(
            cells=[
                ft.DataCell(ft.Text(str(user.get("full_name", "")))),
                ft.DataCell(ft.Text(str(user.get("email", "")))),
                ft.DataCell(ft.Text("Admin" if is_admin else "Viewer")),
                ft.DataCell(
                    ft.Text(
                        "Active" if active else "Deactivated",
                        color=None if active else ft.Colors.ERROR,
                    )
                ),
                ft.DataCell(ft.Text(local_time(user.get("created_at")))),
                ft.DataCell(
                    ft.Row(
                        tight=True,
                        controls=[
                            ft.TextButton(
                                "Make viewer" if is_admin else "Make admin", on_click=change_role
                            ),
                            ft.TextButton(
                                "Deactivate" if active else "Reactivate", on_click=toggle_active
                            ),
                            ft.TextButton("End sessions", on_click=end_sessions),
                        ],
                    )
                ),
            ]
        )


class _CreateUserForm:
    """Inline form; the temporary password is shown once, right here."""

    def __init__(self, view: UsersView) -> None:
        self.view = view
        self.full_name = ft.TextField(label="New user's full name", width=240)
        self.email = ft.TextField(label="New user's email", width=260)
        self.role = ft.Dropdown(
            label="Role",
            width=150,
            value="viewer",
            options=[
                ft.DropdownOption(key="viewer", text="Viewer"),
                ft.DropdownOption(key="admin", text="Admin"),
            ],
        )
        self.password = ft.TextField(
            label="Password (optional)",
            password=True,
            can_reveal_password=True,
            width=240,
            helper="Leave empty for a temporary one",
        )
        self.result = ft.Text("", selectable=True, visible=False)
        self.control = section_card(
            ft.Text("Create a user", size=16, weight=ft.FontWeight.W_600),
            ft.Row(
                wrap=True,
                # Top, not centre: the password's helper line must not lift its box.
                vertical_alignment=ft.CrossAxisAlignment.START,
                controls=[self.full_name, self.email, self.role, self.password],
            ),
            ft.Row([ft.FilledButton("Create user", on_click=self.submit)]),
            self.result,
        )

    async def submit(self, _: ft.Event[ft.Button]) -> None:
        body: dict[str, Any] = {
            "full_name": (self.full_name.value or "").strip(),
            "email": (self.email.value or "").strip(),
            "role": self.role.value or "viewer",
        }
        if self.password.value:
            body["password"] = self.password.value
        if not body["full_name"] or not body["email"]:
            self.view.show_error("Enter the new user's name and email.")
            return
        created = await self.view.call_api(self.view.state.api.post("/users", body))
        if created is None:
            return
        temporary = created.get("temporary_password")
        self.result.value = (
            f"Created {created['user']['email']}. Temporary password (shown once): {temporary}"
            if temporary
            else f"Created {created['user']['email']} with the password you set."
        )
        self.result.semantics_label = self.result.value
        self.result.visible = True
        self.full_name.value = self.email.value = self.password.value = ""
        await self.view.load()
