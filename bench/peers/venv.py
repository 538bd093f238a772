"""The bench's own venv for the peers and the pictures: ``bench/.work/peer-venv``.

NiceGUI, matplotlib and psutil (``requirements.txt`` beside this file) are installed
there from the package registry with pip, never into the project's environment. The
venv is made once and remade when the requirements change.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent.parent / ".work"
VENV = WORK / "peer-venv"
REQUIREMENTS = Path(__file__).resolve().parent / "requirements.txt"


def peer_python() -> Path:
    """The peer venv's Python, making the venv first if needed."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".requirements-sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    started = time.perf_counter()
    print(f"  making the peer venv {VENV} (NiceGUI, matplotlib; about a minute)", flush=True)
    shutil.rmtree(VENV, ignore_errors=True)
    base = shutil.which("python3.11") or sys.executable
    subprocess.run([base, "-m", "venv", str(VENV)], check=True)
    pip = subprocess.run(
        [
            *(str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
            *("-r", str(REQUIREMENTS)),
        ],
        capture_output=True,
        text=True,
    )
    if pip.returncode:
        raise RuntimeError(
            f"pip failed in the peer venv:\n{pip.stdout[-2000:]}{pip.stderr[-3000:]}"
        )
    stamp.write_text(wanted)
    print(f"  peer venv ready in {time.perf_counter() - started:.0f} s", flush=True)
    return python
