"""scripts/make-venv.sh: a half-made virtual environment (an interrupted set-up: an interpreter without pip) is
made again, not trusted; a working one is left alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make-venv.sh"


def _pip_works(venv: Path) -> bool:
    return subprocess.run([str(venv / "bin" / "python"), "-c", "import pip"], capture_output=True).returncode == 0


def test_a_half_made_venv_is_made_again_and_a_working_one_left_alone(tmp_path):
    venv = tmp_path / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)  # cut short before pip
    assert not _pip_works(venv)
    done = subprocess.run(["bash", str(SCRIPT), sys.executable, str(venv)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "repairing" in done.stderr and _pip_works(venv)
    marker = venv / "kept"
    marker.write_text("")
    again = subprocess.run(["bash", str(SCRIPT), sys.executable, str(venv)], capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0 and again.stderr == "" and marker.exists()
