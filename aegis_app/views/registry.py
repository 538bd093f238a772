"""ROUTE_TO_VIEW: the one list of pages. Add a view here and it is routable.

The order is the order of the navigation rail.
"""

from __future__ import annotations

from aegis_app.views.audit import AuditView
from aegis_app.views.auth import RegisterView, SignInView
from aegis_app.views.base import BaseView
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

__all__ = ["ROUTE_TO_VIEW", "NotAllowedView", "NotFoundView", "SignInView"]
