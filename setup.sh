#!/usr/bin/env bash
# Set up GD Dynamics Explorer in .venv/ (idempotent: quick when nothing changed).
#
#   bash setup.sh              to run the dashboard and the CLI: the runtime requirements only
#                              (requirements.txt). Needs no root and installs no system package.
#   bash setup.sh --with-ray   also Ray (requirements-ray.txt), for --backend ray and clusters
#   bash setup.sh --test       what the tests need: requirements-test.txt (which includes Ray, for
#                              the Ray tests) and the Chromium browser for the real-browser tests.
#                              This step uses the system package manager (apt-get, through sudo
#                              unless run as root) when /usr/bin/chromium is missing.
#
# PYTHON=/path/to/python3 chooses the interpreter (Python 3.10 or newer).
set -euo pipefail
cd "$(dirname "$0")"

fail() { echo "setup.sh: $*" >&2; exit 1; }

files=(requirements.txt)
browser=no
for option in "$@"; do
  case "$option" in
    --with-ray) files+=(requirements-ray.txt) ;;
    --test) files+=(requirements-test.txt); browser=yes ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) fail "unknown option $option (use --with-ray, --test or --help)" ;;
  esac
done

if [ ! -x .venv/bin/python ]; then
  PYTHON="${PYTHON:-python3}"
  command -v "$PYTHON" >/dev/null 2>&1 \
    || fail "$PYTHON not found: install Python 3.10 or newer, or set PYTHON=/path/to/python3"
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
    || fail "Python 3.10 or newer is needed, $PYTHON is $("$PYTHON" -c 'import platform; print(platform.python_version())'): install a newer one and rerun with PYTHON=python3.X"
  "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 \
    || fail "$PYTHON has no venv module: on Debian or Ubuntu install it with 'sudo apt-get install python3-venv' (or python3.X-venv for your version), then rerun"
  "$PYTHON" -m venv .venv || { rm -rf .venv; fail "could not create .venv with $PYTHON -m venv"; }
fi

# One stamp per requirements file: a file is installed again only when it changed.
for file in "${files[@]}"; do
  stamp=".venv/.gdx-${file%.txt}"
  wanted="$(sha256sum "$file" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
    echo "setup.sh: installing $file into .venv" >&2
    .venv/bin/python -m pip install -q --disable-pip-version-check -r "$file"
    echo "$wanted" > "$stamp"
  fi
done

if [ "$browser" = yes ] && [ ! -x /usr/bin/chromium ]; then
  # Playwright drives Debian's Chromium (it cannot download its own browsers here).
  command -v apt-get >/dev/null 2>&1 \
    || fail "the browser tests need Chromium at /usr/bin/chromium; install it with your system's package manager"
  echo "setup.sh: installing chromium with apt-get (the system package manager)" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
if [ "$browser" = no ]; then
  echo "setup.sh: ready. Run the dashboard: .venv/bin/streamlit run app.py" \
       "(Ray for --backend ray: bash setup.sh --with-ray)" >&2
fi
