#!/usr/bin/env bash
# One-time set-up: Python packages, and Debian's Chromium for the real-browser tests.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m pip install -q -r requirements.txt
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
