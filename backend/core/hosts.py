"""The host names a server answers to, and which origins count as its own.

A browser sends the ``Host`` it typed or was sent to, so a DNS-rebinding page (a name
of the attacker's that resolves to our address) arrives with a ``Host`` and an
``Origin`` of the attacker's choosing that agree with each other. Comparing the two
proves nothing; both are compared with this allowlist instead.

Entries are ``host`` or ``host:port`` (IPv6 in brackets). An entry with a port matches
only that port; an entry without one matches only a ``Host`` (or ``Origin``) without a
port, which is what browsers send for the default ports, e.g. behind a proxy on 443.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.datastructures import Headers

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WILDCARD_ADDRESSES = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 (names, not a bind)

# A DNS name or IPv4 address, or an IPv6 address in brackets; then an optional port.
_ENTRY = re.compile(
    r"^(?P<host>[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?|\[[0-9a-f:.]+\])"
    r"(:(?P<port>\d{1,5}))?$"
)


class HostListError(ValueError):
    """An allowlist entry that is not ``host`` or ``host:port``; the message says which."""


def normalize_entry(entry: str) -> str:
    text = entry.strip().lower()
    match = _ENTRY.match(text)
    port = match.group("port") if match else None
    if match is None or (port is not None and not 0 < int(port) < 65536):
        raise HostListError(
            f"{entry.strip()!r} is not a host or host:port (no scheme, no path, no wildcard)"
        )
    return text


def host_for_url(address: str) -> str:
    """``::1`` -> ``[::1]``: how an address appears in a Host header."""
    return f"[{address}]" if ":" in address and not address.startswith("[") else address


def is_loopback(address: str) -> bool:
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class HostAllowlist:
    entries: frozenset[str]

    @classmethod
    def of(cls, entries: Iterable[str]) -> HostAllowlist:
        normalized = frozenset(normalize_entry(entry) for entry in entries if entry.strip())
        if not normalized:
            raise HostListError("the list of allowed hosts is empty")
        return cls(normalized)

    @classmethod
    def parse(cls, text: str) -> HostAllowlist:
        """A comma-separated list, as ``AEGIS_ALLOWED_HOSTS`` holds it."""
        return cls.of(text.split(","))

    @classmethod
    def for_bound_address(cls, host: str, port: int) -> HostAllowlist:
        """The default of ``aegis serve``: the address it is bound to, with its port,
        and the loopback names too when it listens on loopback (a wildcard address
        listens there as well)."""
        entries = {f"{host_for_url(host)}:{port}"} if host not in WILDCARD_ADDRESSES else set()
        if is_loopback(host) or host in WILDCARD_ADDRESSES:
            entries |= {f"{name}:{port}" for name in LOOPBACK_NAMES}
        return cls.of(entries)

    def allows_host(self, host: str | None) -> bool:
        return host is not None and host.strip().lower() in self.entries

    def allows_origin(self, origin: str, scheme: str) -> bool:
        """Whether ``origin`` (``scheme://host[:port]``) is ours when the request came
        over ``scheme`` (http or https): the scheme must match too."""
        origin_scheme, separator, netloc = origin.strip().rstrip("/").partition("://")
        if not separator or origin_scheme.lower() != scheme or "/" in netloc or "@" in netloc:
            return False
        return self.allows_host(netloc)

    def describe(self) -> str:
        return ", ".join(sorted(self.entries))


def http_scheme(scheme: str) -> str:
    """The scheme a browser's ``Origin`` carries for a request that came over ``scheme``."""
    return "https" if scheme in ("https", "wss") else "http"


def referer_origin(referer: str) -> str:
    """``https://host:port/path?q`` -> ``https://host:port``."""
    scheme, separator, rest = referer.partition("://")
    if not separator:
        return ""
    return f"{scheme}://{re.split(r'[/?#]', rest, maxsplit=1)[0]}"


# Values of Sec-Fetch-Site for a navigation the user or our own page started.
OWN_NAVIGATION_SITES = frozenset({"same-origin", "none"})


def foreign_navigation(headers: Headers, scheme: str, allowlist: HostAllowlist) -> str | None:
    """Why a top-level navigation did not come from our own pages, or None if it did.

    Fetch metadata decides when the browser sends it (``same-origin``, or ``none`` for
    an address typed or bookmarked). Without it (older browsers, plain http to a LAN
    address), the ``Referer`` must be one of our origins; our pages send it, because
    every response says ``Referrer-Policy: same-origin``.
    """
    site = headers.get("sec-fetch-site")
    if site is not None:
        if site.lower() in OWN_NAVIGATION_SITES:
            return None
        return f"Sec-Fetch-Site: {site[:40]}"
    referer = headers.get("referer")
    if referer is None:
        return "no fetch metadata and no Referer"
    if allowlist.allows_origin(referer_origin(referer), http_scheme(scheme)):
        return None
    return f"Referer from another origin ({referer_origin(referer)[:100]})"
