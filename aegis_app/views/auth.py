"""Sign in and create account."""

from __future__ import annotations

from urllib.parse import urlencode

import flet as ft

from aegis_app.api_client import APIError
from aegis_app.views.base import BaseView

FORM_WIDTH = 380


def with_next(route: str, params: dict[str, str]) -> str:
    """Carry the post-sign-in destination between the sign-in and sign-up pages."""
    return f"{route}?{urlencode({'next': params['next']})}" if params.get("next") else route


def _card(*controls: ft.Control) -> ft.Control:
    return ft.Card(
        elevation=2,
        content=ft.Container(
            width=FORM_WIDTH,
            padding=28,
            content=ft.Column(
                tight=True,
                spacing=14,
                horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
                controls=list(controls),
            ),
        ),
    )


def _heading(title: str, subtitle: str) -> ft.Control:
    return ft.Column(
        tight=True,
        spacing=4,
        controls=[
            ft.Row([ft.Icon(ft.Icons.SHIELD_OUTLINED, size=28), ft.Text("Aegis", size=22)]),
            ft.Text(title, size=26, weight=ft.FontWeight.BOLD),
            ft.Text(subtitle, color=ft.Colors.ON_SURFACE_VARIANT),
        ],
    )


class SignInView(BaseView):
    route = "/login"
    title = "Sign in"
    requires_auth = False
    redirect_when_signed_in = True

    def build(self) -> ft.Control:
        self.email = ft.TextField(label="Email", autofocus=True)
        self.password = ft.TextField(
            label="Password", password=True, can_reveal_password=True, on_submit=self.submit
        )
        self.email.on_submit = self._focus_password
        self.submit_button = ft.FilledButton("Sign in", on_click=self.submit, expand=True)
        self.create_account = ft.TextButton("Create account", on_click=self._to_register)
        self.new_here = ft.Row([ft.Text("New here?"), self.create_account], tight=True)
        self.notice = ft.Text(self.state.notice or "", visible=bool(self.state.notice))
        self.state.notice = None
        return _card(
            _heading("Sign in", "Operations dashboard"),
            self.notice,
            self.email,
            self.password,
            self.error_text,
            ft.Row([self.submit_button]),
            self.new_here,
        )

    async def on_enter(self, params: dict[str, str]) -> None:
        self.params = params
        status = await self.call_api(self.state.api.get("/auth/registration"))
        self.create_account.visible = self.new_here.visible = bool(status and status.get("open"))
        if status and status.get("first_account"):
            first = "No account exists yet. Create the first one: it will be the admin."
            self.notice.value = f"{self.notice.value}\n\n{first}" if self.notice.value else first
            self.notice.visible = True

    async def _focus_password(self, _: ft.Event[ft.TextField]) -> None:
        await self.password.focus()  # type: ignore[no-untyped-call]

    async def _to_register(self, _: ft.Event[ft.TextButton]) -> None:
        await self.navigator.go(with_next(RegisterView.route, self.params))

    async def submit(self, _: ft.Event[ft.Control] | None = None) -> None:
        email, password = (self.email.value or "").strip(), self.password.value or ""
        if not email or not password:
            self.show_error("Enter your email and password.")
            return
        self.submit_button.disabled = True
        self.show_error(None)
        self.refresh_ui()
        try:
            await self.state.sign_in(email, password)
        except APIError as error:
            self.show_error(error.message)
            self.password.value = ""
            return
        finally:
            self.submit_button.disabled = False
        await self.navigator.after_sign_in(self.params)


class RegisterView(BaseView):
    route = "/register"
    title = "Create account"
    requires_auth = False
    redirect_when_signed_in = True

    def build(self) -> ft.Control:
        self.full_name = ft.TextField(label="Full name", autofocus=True)
        self.email = ft.TextField(label="Email")
        self.password = ft.TextField(
            label="Password",
            password=True,
            can_reveal_password=True,
            on_submit=self.submit,
            helper="At least 10 characters.",
        )
        self.submit_button = ft.FilledButton("Create account", on_click=self.submit, expand=True)
        return _card(
            _heading("Create account", "Your details stay on this Aegis server."),
            self.full_name,
            self.email,
            self.password,
            self.error_text,
            ft.Row([self.submit_button]),
            ft.Row(
                [ft.Text("Have an account?"), ft.TextButton("Sign in", on_click=self._to_sign_in)],
                tight=True,
            ),
        )

    async def on_enter(self, params: dict[str, str]) -> None:
        self.params = params
        status = await self.call_api(self.state.api.get("/auth/registration"))
        if status is None:
            return
        self.password.helper = f"At least {status['min_password_length']} characters."
        if not status.get("open"):
            self.show_error("Registration is closed. Ask an administrator for an account.")
            self.submit_button.disabled = True

    async def _to_sign_in(self, _: ft.Event[ft.TextButton]) -> None:
        await self.navigator.go(with_next(SignInView.route, self.params))

    async def submit(self, _: ft.Event[ft.Control] | None = None) -> None:
        full_name = (self.full_name.value or "").strip()
        email = (self.email.value or "").strip()
        password = self.password.value or ""
        if not full_name or not email or not password:
            self.show_error("Fill in your name, email and a password.")
            return
        self.submit_button.disabled = True
        self.refresh_ui()
        try:
            await self.state.register(full_name, email, password)
        except APIError as error:
            self.show_error(error.message)
            return
        finally:
            self.submit_button.disabled = False
        await self.navigator.after_sign_in(self.params)
