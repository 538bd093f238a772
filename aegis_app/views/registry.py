"""ROUTE_TO_VIEW: the one list of pages. Add a view here and it is routable."""

from __future__ import annotations

from aegis_app.views.auth import RegisterView, SignInView
from aegis_app.views.base import BaseView
from aegis_app.views.dashboard import DashboardView
from aegis_app.views.not_found import NotFoundView
from aegis_app.views.sessions import SessionsView

ROUTE_TO_VIEW: dict[str, type[BaseView]] = {
    view.route: view for view in (DashboardView, SessionsView, SignInView, RegisterView)
}

__all__ = ["ROUTE_TO_VIEW", "NotFoundView", "SignInView"]
