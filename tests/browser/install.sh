#!/usr/bin/env bash
# What the browser tests need beyond the Python virtual environment:
# Debian's Chromium, Japanese fonts (screenshots) and axe-core from npm.
# Idempotent and quick when everything is there already; run as root (CI is).
set -euo pipefail
cd "$(dirname "$0")"

CHROMIUM=/usr/bin/chromium
missing=()
[ -x "$CHROMIUM" ] || missing+=(chromium)
if ! dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q 'ok installed'; then
  missing+=(fonts-noto-cjk)
fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "browser tests: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt_get=(apt-get)
  [ "$(id -u)" -eq 0 ] || apt_get=(sudo apt-get)
  "${apt_get[@]}" update -qq
  "${apt_get[@]}" install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -f node_modules/axe-core/axe.min.js ]; then
  echo "browser tests: installing axe-core"
  if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  else
    npm install --no-audit --no-fund --loglevel=error
  fi
fi

"$CHROMIUM" --version 2>/dev/null
node -e 'console.log("axe-core " + require("./node_modules/axe-core/package.json").version)'
