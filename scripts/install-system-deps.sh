#!/usr/bin/env bash
# Install what the local reference stack needs from the OS (PostgreSQL server, Redis) when missing; with
# --test also Chromium (tests/integration/test_report_browser.py opens report.html in it) and poppler-utils (the
# PDF checks of tests/integration/test_pdf.py render and read the printed report) and sudo (the workflows' set-up
# steps, run as the runner runs them by tests/integration/test_workflow_setup.py).
# Debian/Ubuntu as root: apt-get. macOS: say what to `brew install` (brew is never run here) and exit 0.
# Elsewhere: say exactly what to install and fail. Where the stack looks: infra/local/binaries.py.
set -euo pipefail

have_postgres() {
  command -v initdb >/dev/null 2>&1 && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && return 0
  command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ] && return 0
  ls /opt/homebrew/opt/postgresql*/bin/initdb /usr/local/opt/postgresql*/bin/initdb >/dev/null 2>&1 && return 0
  return 1
}
have_redis() {
  command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] \
    || [ -x /opt/homebrew/opt/redis/bin/redis-server ] || [ -x /usr/local/opt/redis/bin/redis-server ]
}
have_chromium() {
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
    || command -v google-chrome >/dev/null 2>&1 || [ -x /snap/bin/chromium ]
}
is_ubuntu() { [ -r /etc/os-release ] && grep -q '^ID=ubuntu' /etc/os-release; }

missing=()
have_postgres || missing+=(postgresql)
have_redis || missing+=(redis-server)
if [ "${1:-}" = "--test" ]; then
  if ! have_chromium; then
    if is_ubuntu; then
      # Ubuntu ships Chromium only as a snap (its apt package is a stub that needs snapd): use it when snapd runs,
      # else say what to install; the tests take chromium, chromium-browser or google-chrome from PATH.
      if command -v snap >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && snap install chromium >/dev/null 2>&1; then
        echo "installed Chromium from the snap store (/snap/bin/chromium)" >&2
      else
        echo "error: no Chromium for the browser tests; on Ubuntu it is a snap: sudo snap install chromium, or" \
             "install Google Chrome's .deb (google-chrome on PATH)" >&2
        exit 1
      fi
    else
      missing+=(chromium)
    fi
  fi
  command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)  # the PDF checks: pdftoppm, pdftotext
  command -v sudo >/dev/null 2>&1 || missing+=(sudo)  # tests/integration/test_workflow_setup.py runs `sudo make setup`
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(uname -s)" = "Darwin" ]; then
  # An engineer's laptop: Homebrew is theirs to drive. Name the formulae; `gameday stack up` says it again if needed.
  formulae=""
  cask=""
  for package in "${missing[@]}"; do
    case "$package" in
      postgresql) formulae="$formulae postgresql@16" ;;
      redis-server) formulae="$formulae redis" ;;
      poppler-utils) formulae="$formulae poppler" ;;
      chromium) cask="brew install --cask chromium (the tests take \`chromium\` from PATH)" ;;
    esac
  done
  echo "macOS: missing ${missing[*]}; install with Homebrew (this script does not run brew):" >&2
  [ -n "$formulae" ] && echo "  brew install$formulae" >&2
  [ -n "$cask" ] && echo "  $cask" >&2
  echo "Postgres and Redis then run as your own user (run gameday without sudo)." >&2
  exit 0
fi

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  echo "installing system packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d 101: do not let the packages start their own services on 5432/6379.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
echo "error: missing system packages: ${missing[*]}" >&2
if command -v apt-get >/dev/null 2>&1; then
  echo "hint: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
elif command -v brew >/dev/null 2>&1; then
  echo "hint: brew install postgresql@16 redis (and poppler, --cask chromium for the tests, with \`chromium\` on PATH)" >&2
else
  echo "hint: install a PostgreSQL server (initdb, postgres, pg_basebackup) and redis-server (and Chromium for the tests) with your package manager" >&2
fi
exit 1
