"""What differs between the web and the desktop target, and nothing else.

Views, routing and state are shared; a target only says how a session reaches the
backend (``new_http_client``) and where it keeps the session cookie between Python
sessions (``new_cookie_store``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import flet as ft
import httpx

from aegis_app.api_client import APIClient
from aegis_app.state import SessionCookieStore

API_TIMEOUT = httpx.Timeout(15.0, connect=5.0)


@dataclass(frozen=True)
class Target:
    name: Literal["web", "desktop"]
    new_http_client: Callable[[ft.Page], httpx.AsyncClient]
    new_cookie_store: Callable[[ft.Page, APIClient], SessionCookieStore]
