"""Light/dark theme, remembered per device with Flet's SharedPreferences.

Only a UI preference lives there: on the web it is the browser's localStorage,
which scripts can read, so nothing that authenticates may ever be stored in it.
"""

from __future__ import annotations

import logging

import flet as ft

log = logging.getLogger("aegis.theme")

THEME_PREFERENCE_KEY = "aegis.theme"
THEME_CHOICES = {
    "light": ft.ThemeMode.LIGHT,
    "dark": ft.ThemeMode.DARK,
    "system": ft.ThemeMode.SYSTEM,
}
DEFAULT_THEME = "light"
SEED_COLOR = ft.Colors.INDIGO
THEME = ft.Theme(color_scheme_seed=SEED_COLOR)
"""Light and dark alike, and one object for every session: it is never changed (only
``theme_mode`` is), so Flet sends it once per session and keeps no copy per session."""


def setup_theme(page: ft.Page) -> None:
    page.theme = page.dark_theme = THEME
    page.theme_mode = THEME_CHOICES[DEFAULT_THEME]


def current_theme(page: ft.Page) -> str:
    for name, mode in THEME_CHOICES.items():
        if page.theme_mode == mode:
            return name
    return DEFAULT_THEME


async def load_theme(page: ft.Page) -> None:
    try:
        stored = await ft.SharedPreferences().get(THEME_PREFERENCE_KEY)
    except Exception as error:  # a client without storage must not stop the app
        log.info("theme preference unavailable: %s", error)
        return
    if isinstance(stored, str) and stored in THEME_CHOICES:
        page.theme_mode = THEME_CHOICES[stored]


async def save_theme(page: ft.Page, name: str) -> None:
    if name not in THEME_CHOICES:
        raise ValueError(f"unknown theme {name!r}")
    page.theme_mode = THEME_CHOICES[name]
    page.update()
    try:
        await ft.SharedPreferences().set(THEME_PREFERENCE_KEY, name)
    except Exception as error:
        log.info("could not remember the theme: %s", error)
