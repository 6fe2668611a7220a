#!/usr/bin/env bash
# Debian's Chromium for tests/test_widgets_browser.py (Playwright drives /usr/bin/chromium; it never downloads a
# browser of its own). Idempotent: does nothing when /usr/bin/chromium exists. Needs root (CI runs as root).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q chromium
/usr/bin/chromium --version
