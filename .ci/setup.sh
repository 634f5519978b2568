#!/usr/bin/env bash
# Everything xpha needs on a fresh Debian 12 machine: system packages (as root), a virtualenv,
# and the project with its Python dependencies. Idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  postgresql-15 postgresql-15-q3c postgresql-15-pgsphere  # the database
  stilts                                                  # taplint/tapquery (TOPCAT's engine)
  docker-compose                                          # validates docker-compose.yml
  chromium chromium-driver                                # landing-page browser test
)
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
VENV=.venv

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "xpha setup: missing system packages: ${missing[*]}" >&2
    echo "run as root, or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "xpha setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp="$VENV/.xpha-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  [[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  find_links=()
  [[ -d /opt/wheels ]] && find_links=(--find-links /opt/wheels)
  # torch is pinned to the CPU wheel (2.13.0); an unpinned torch would pull a multi-GB CUDA build.
  "$VENV/bin/python" -m pip install -q "${find_links[@]}" "torch==2.13.0"
  "$VENV/bin/python" -m pip install -q "${find_links[@]}" -e ".[dev]"
  echo "$want" > "$stamp"
fi
echo "xpha setup: ready ($VENV)"
