"""Process helpers and the ``DesktopApp`` driver used by the desktop-target fixtures."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

from tests.waiting import ConditionTimeout, wait_until

REPO = Path(__file__).resolve().parents[3]
# A cold first run unpacks the Flet client (64 MB) into ~/.flet; under make test's
# coverage on a loaded machine one launch took over 40 s.
WINDOW_TIMEOUT = 60.0
FRAME_TIMEOUT = 20.0  # a frame to settle, on a loaded machine under coverage
FRAME_COLOURS = 50  # a blank window has 1-2 colours; the sign-in card several hundred
NO_KEYRING_ENV = {"DBUS_SESSION_BUS_ADDRESS": "disabled:"}


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def pids_with_env(entry: str) -> list[int]:
    """Live processes whose environment holds ``entry`` (e.g. our private bus address)."""
    found = []
    needle = entry.encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if needle in (proc / "environ").read_bytes().split(b"\0") and alive(int(proc.name)):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def wait_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """Wait until none of ``pids`` is alive; returns those still alive at the deadline."""
    pids = list(pids)
    with contextlib.suppress(ConditionTimeout):
        wait_until(lambda: not any(alive(p) for p in pids), timeout, what=f"{pids} to end")
    return [p for p in pids if alive(p)]


def stop_pids(pids: list[int], timeout: float = 5.0) -> list[int]:
    """SIGTERM, wait, SIGKILL what is left; returns what did not die on SIGTERM."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    stubborn = wait_gone(pids, timeout)
    for pid in stubborn:
        os.kill(pid, signal.SIGKILL)
    return stubborn


@dataclass
class SecretService:
    address: str
    env: dict[str, str]


def reset_keyring_caches() -> None:
    """keyring caches the chosen backend and the list of viable ones, per process."""
    import keyring.backend
    import keyring.core

    keyring.core._keyring_backend = None
    vars(keyring.backend.get_all_keyring).pop("saved_result", None)


def run_tool(*args: str, display: str, check: bool = True) -> str:
    result = subprocess.run(
        args, capture_output=True, text=True, env={**os.environ, "DISPLAY": display}, timeout=20
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{args[0]} failed: {result.stderr.strip()}")
    return result.stdout.strip()


class DesktopApp:
    """``python -m aegis_app desktop`` under Xvfb, one launch at a time."""

    def __init__(self, display: str, data_dir: Path, env: dict[str, str]) -> None:
        self.display = display
        self.data_dir = data_dir
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.focused: str | None = None
        self.seen_pids: set[int] = set()
        self.output = data_dir.parent / "desktop-output.txt"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "logs" / "aegis-desktop.log"

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8") if self.log_path.exists() else ""

    def launch(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        env = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
        env |= {
            "DISPLAY": self.display,
            "AEGIS_DATA_DIR": str(self.data_dir),
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        with self.output.open("ab") as out:
            self.started_at = time.monotonic()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "aegis_app", "desktop"],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def _remember_children(self) -> None:
        assert self.process is not None
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return
        self.seen_pids.update(child.pid for child in children)

    def window(self, title: str, timeout: float = WINDOW_TIMEOUT) -> str:
        """Wait until a window with exactly this title shows a drawn frame; its id."""
        pattern = "^" + re.escape(title.split(" ")[0])
        drawn: list[str] = []

        def shown() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the app exited ({self.process.returncode})\n{self.tail()}")
            self._remember_children()
            found = run_tool(
                "xdotool", "search", "--name", pattern, display=self.display, check=False
            )
            for wid in found.split():
                name = run_tool("xdotool", "getwindowname", wid, display=self.display, check=False)
                if name == title and self.colours(wid) > FRAME_COLOURS:
                    drawn.append(wid)
                    return True
            return False

        try:
            wait_until(shown, timeout, what=f"a drawn window titled {title!r}")
        except ConditionTimeout as timed_out:
            raise AssertionError(f"{timed_out}\n{self.tail()}") from None
        return drawn[-1]

    def colours(self, wid: str) -> int:
        out = run_tool(
            "import", "-window", wid, "-format", "%k", "info:", display=self.display, check=False
        )
        return int(out) if out.isdigit() else 0

    def _frame(self, wid: str, path: Path) -> str:
        """Capture the window into ``path``; the pixels' signature."""
        run_tool("import", "-window", wid, str(path), display=self.display)
        return run_tool("identify", "-format", "%#", str(path), display="")

    def _settle(self, wid: str, path: Path, changed_from: str | None = None) -> None:
        """Until two captures in a row are alike (and differ from ``changed_from``)."""
        signatures: list[str] = []

        def settled() -> bool:
            signatures.append(self._frame(wid, path))
            return (
                len(signatures) > 1
                and signatures[-1] == signatures[-2]
                and signatures[-1] != changed_from
            )

        wait_until(settled, FRAME_TIMEOUT, what=f"window {wid}'s frame to settle")

    def screenshot(self, wid: str, path: Path) -> int:
        """Save the window's frame once it has stopped changing (two captures alike)."""
        self._settle(wid, path)
        return self.colours(wid)

    def focus(self, wid: str) -> None:
        run_tool("xdotool", "mousemove", "--window", wid, "5", "5", display=self.display)
        run_tool("xdotool", "windowfocus", "--sync", wid, display=self.display)
        self.focused = wid

    # Typing and keys go to the focused window, and each waits until the client has drawn
    # its effect (the frame changed, then held still), as a person watches the text appear
    # before pressing Tab: Flutter's desktop client moves the focus on Tab before it has
    # handled text typed just before it, so without the wait "Ada Lovelace" became
    # "Ada Lovel".
    def type(self, text: str) -> None:
        self._drawn_after("xdotool", "type", "--delay", "40", text)

    def key(self, *keys: str) -> None:
        for key in keys:
            self._drawn_after("xdotool", "key", key)

    def _drawn_after(self, *command: str) -> None:
        assert self.focused is not None, "focus() a window first"
        frame = self.data_dir.parent / "desktop-frame.png"
        before = self._frame(self.focused, frame)
        run_tool(*command, display=self.display)
        self._settle(self.focused, frame, changed_from=before)

    def click(self, wid: str, x: int, y: int) -> None:
        run_tool(
            "xdotool",
            "mousemove",
            "--window",
            wid,
            str(x),
            str(y),
            "click",
            "1",
            display=self.display,
        )

    def width(self, wid: str) -> int:
        info = run_tool("xwininfo", "-id", wid, display=self.display)
        width = re.search(r"Width: (\d+)", info)
        assert width is not None, info
        return int(width.group(1))

    def terminate(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Signal the app and wait; returns its exit code."""
        assert self.process is not None
        self._remember_children()
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"the app did not exit {timeout} s after {sig.name}") from None

    def leftovers(self) -> list[int]:
        return sorted(wait_gone(self.seen_pids, 3))

    def tail(self, lines: int = 40) -> str:
        text = self.output.read_text(errors="replace") if self.output.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        stop_pids([p for p in self.seen_pids if alive(p)], timeout=2)
