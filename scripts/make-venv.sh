#!/usr/bin/env bash
# Create the virtual environment VENV with PYTHON, or repair a half-made one (a crashed or interrupted set-up):
# a venv whose interpreter does not run or has no pip is removed and made again, never trusted.
# When the venv module is missing (Debian/Ubuntu ship it as python3-venv), install it as root with apt-get,
# or say exactly what to install.      usage: scripts/make-venv.sh PYTHON VENV
set -euo pipefail
python="$1"; venv="$2"

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import pip, sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  exit 0
fi
if [ -e "$venv" ]; then
  echo "repairing $venv: its interpreter or pip does not work (a set-up cut short?); making it again" >&2
  rm -rf "$venv"
fi
if "$python" -m venv "$venv" 2>/dev/null; then exit 0; fi
rm -rf "$venv"
version="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  echo "installing python${version}-venv (the venv module of $python)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "python${version}-venv" >/dev/null 2>&1 \
    || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  "$python" -m venv "$venv" && exit 0
fi
echo "error: could not create $venv with $python: its venv module is missing" >&2
echo "hint: apt-get install -y python${version}-venv (Debian/Ubuntu), or use a Python that has it (PYTHON=...)" >&2
exit 1
