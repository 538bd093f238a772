"""ROUTE_TO_VIEW: the one list of pages. Add a view here and it is routable.

The order is the order of the navigation rail. ``PAGES`` is what ``app.py`` hands the
router: these, and the pages it falls back on.
"""

from __future__ import annotations

from aegis_app.views.audit import AuditView
from aegis_app.views.auth import RegisterView, SignInView
from aegis_app.views.base import BaseView, Pages
from aegis_app.views.dashboard import DashboardView
from aegis_app.views.not_found import NotAllowedView, NotFoundView
from aegis_app.views.sessions import SessionsView
from aegis_app.views.settings import SettingsView
from aegis_app.views.users import UsersView

ROUTE_TO_VIEW: dict[str, type[BaseView]] = {
    view.route: view
    for view in (
        DashboardView,
        SessionsView,
        UsersView,
        AuditView,
        SettingsView,
        SignInView,
        RegisterView,
    )
}

PAGES = Pages(
    by_route=ROUTE_TO_VIEW,
    sign_in=SignInView,
    not_found=NotFoundView,
    not_allowed=NotAllowedView,
)

__all__ = ["PAGES", "ROUTE_TO_VIEW"]
