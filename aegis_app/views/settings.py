"""Settings: profile, password, where this session is kept, theme."""

from __future__ import annotations

import flet as ft

from aegis_app.state import SignedInUser
from aegis_app.theme import THEME_CHOICES, current_theme, save_theme
from aegis_app.views.base import BaseView
from aegis_app.views.components import page_header, section_card

FIELD_WIDTH = 360


class SettingsView(BaseView):
    route = "/settings"
    title = "Settings"
    in_navigation = True
    icon = ft.Icons.SETTINGS_OUTLINED

    def build(self) -> ft.Control:
        user = self.state.user
        self.full_name = ft.TextField(
            label="Full name", value=user.full_name if user else "", width=FIELD_WIDTH
        )
        self.profile_result = ft.Text("", visible=False)
        self.current_password = ft.TextField(
            label="Current password", password=True, can_reveal_password=True, width=FIELD_WIDTH
        )
        self.new_password = ft.TextField(
            label="New password", password=True, can_reveal_password=True, width=FIELD_WIDTH
        )
        self.password_result = ft.Text("", visible=False)
        self.theme = ft.SegmentedButton(
            selected=[current_theme(self.page)],
            segments=[
                ft.Segment(value=name, label=ft.Text(name.capitalize())) for name in THEME_CHOICES
            ],
            on_change=self._change_theme,
        )
        return ft.Column(
            spacing=16,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            controls=[
                page_header("Settings", user.email if user else ""),
                self.error_text,
                section_card(
                    ft.Text("Profile", size=16, weight=ft.FontWeight.W_600),
                    self.full_name,
                    ft.Row([ft.FilledButton("Save profile", on_click=self._save_profile)]),
                    self.profile_result,
                ),
                section_card(
                    ft.Text("Password", size=16, weight=ft.FontWeight.W_600),
                    ft.Text(
                        "Changing it signs you out everywhere else.",
                        color=ft.Colors.ON_SURFACE_VARIANT,
                    ),
                    self.current_password,
                    self.new_password,
                    ft.Row([ft.FilledButton("Change password", on_click=self._change_password)]),
                    self.password_result,
                ),
                section_card(
                    ft.Text("This session", size=16, weight=ft.FontWeight.W_600),
                    ft.Text(f"Kept in: {self.state.cookie_store.description}"),
                ),
                section_card(
                    ft.Text("Theme", size=16, weight=ft.FontWeight.W_600),
                    ft.Text("Remembered on this device.", color=ft.Colors.ON_SURFACE_VARIANT),
                    self.theme,
                ),
            ],
        )

    async def _save_profile(self, _: ft.Event[ft.Button]) -> None:
        name = (self.full_name.value or "").strip()
        if not name:
            self.show_error("Your name can't be empty.")
            return
        updated = await self.call_api(self.state.api.patch("/auth/me", {"full_name": name}))
        if updated is None:
            return
        self.state.user = SignedInUser.from_api(updated)
        self.profile_result.value = "Profile saved."
        self.profile_result.visible = True
        self.navigator.show_user()

    async def _change_password(self, _: ft.Event[ft.Button]) -> None:
        current, new = self.current_password.value or "", self.new_password.value or ""
        if not current or not new:
            self.show_error("Enter your current password and a new one.")
            return
        result = await self.call_api(
            self.state.api.post(
                "/auth/password", {"current_password": current, "new_password": new}
            )
        )
        self.current_password.value = self.new_password.value = ""
        if result is None:
            return
        self.password_result.value = str(result.get("detail", "Password changed."))
        self.password_result.visible = True

    async def _change_theme(self, event: ft.Event[ft.SegmentedButton]) -> None:
        selected = event.control.selected
        if selected:
            await save_theme(self.page, selected[0])
