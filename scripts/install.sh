#!/usr/bin/env bash
# Install everything napari-cytoqa needs on a fresh Debian/Ubuntu machine (or venv):
# the X server and xcb libraries for headless Qt tests, then the package with its testing extra.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0
  libxcb-xkb1 libxkbcommon-x11-0 libxcb-shape0 libxcb-randr0 libxcb-cursor0 libgl1 libegl1
  libfontconfig1 libdbus-1-3"
missing=$(for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "install.sh: please install these system packages for headless Qt: $missing" >&2
  fi
fi

python -m pip install -q -e ".[testing]"
python -c "import napari_cytoqa, torch; print('napari-cytoqa', napari_cytoqa.__version__, '| torch', torch.__version__)"
