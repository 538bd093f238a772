"""A session's client, described in words ("Chrome on Linux", "Script (python-httpx)").

"Aegis desktop" is never read from the user agent, which any client can choose: only a
session signed in through the desktop backend's guard, with the launch secret, gets it.
A user agent that claims it otherwise is shown as the claim it is.
"""

from __future__ import annotations

# Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
_APPS: tuple[tuple[str, str], ...] = (
    ("aegis desktop", 'Unverified client calling itself "Aegis desktop"'),
    ("edg/", "Edge"),
    ("opr/", "Opera"),
    ("firefox", "Firefox"),
    ("chrom", "Chrome"),
    ("safari", "Safari"),
    ("python-httpx", "Script (python-httpx)"),
    ("python-requests", "Script (python-requests)"),
    ("python-urllib", "Script (Python urllib)"),
    ("aiohttp", "Script (aiohttp)"),
    ("go-http-client", "Script (Go)"),
    ("curl/", "curl"),
    ("wget/", "Wget"),
)
_SYSTEMS: tuple[tuple[str, str], ...] = (
    ("windows", "Windows"),
    ("iphone", "iOS"),
    ("ipad", "iPadOS"),
    ("android", "Android"),
    ("mac os", "macOS"),
    ("macos", "macOS"),
    ("darwin", "macOS"),
    ("cros", "ChromeOS"),
    ("linux", "Linux"),
)
DESKTOP_APP = "Aegis desktop"


def describe_device(user_agent: str, *, via_desktop_app: bool = False) -> str:
    ua = user_agent.lower()
    system = next((name for key, name in _SYSTEMS if key in ua), "")
    if via_desktop_app:
        return f"{DESKTOP_APP} on {system}" if system else DESKTOP_APP
    if not ua.strip():
        return "Unknown device"
    app = next((name for key, name in _APPS if key in ua), "Unknown browser")
    return f"{app} on {system}" if system else app
