"""A user agent string, described in words ("Chrome on Linux", "Aegis desktop")."""

from __future__ import annotations

# Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
_APPS: tuple[tuple[str, str], ...] = (
    ("aegis desktop", "Aegis desktop"),
    ("edg/", "Edge"),
    ("opr/", "Opera"),
    ("firefox", "Firefox"),
    ("chrom", "Chrome"),
    ("safari", "Safari"),
    ("python-httpx", "Aegis desktop"),
    ("curl/", "curl"),
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


def describe_device(user_agent: str) -> str:
    ua = user_agent.lower()
    if not ua.strip():
        return "Unknown device"
    app = next((name for key, name in _APPS if key in ua), "Unknown browser")
    system = next((name for key, name in _SYSTEMS if key in ua), "")
    if app == "Aegis desktop":
        return f"Aegis desktop on {system}" if system else app
    return f"{app} on {system}" if system else app
