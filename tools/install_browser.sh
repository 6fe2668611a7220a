#!/usr/bin/env bash
# A Chromium for tests/test_widgets_browser.py, which uses whichever of the two this installs. Idempotent.
# - Here (root on Debian, as this project's CI machine): Debian's /usr/bin/chromium from apt; nothing downloads a
#   browser of its own.
# - On GitHub Actions, or as a non-root user, or without apt-get, or on a non-Debian system (Ubuntu's chromium
#   package is only a stub for a snap): Playwright's own Chromium, installed with the Playwright version of the
#   project's .venv (each Playwright release drives the Chromium build it was made with). `--with-deps` adds the
#   system libraries it needs through sudo apt-get where there is one (GitHub's runner has it, passwordless).
set -euo pipefail
cd "$(dirname "$0")/.."
debian() { [ -z "${GITHUB_ACTIONS:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null &&
           grep -qx 'ID=debian' /etc/os-release 2>/dev/null; }
if debian; then
  if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q chromium
  /usr/bin/chromium --version
else
  # the same .venv tools/test.sh makes; its `pip install -e '.[dev]'` then keeps this Playwright version
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check playwright
  .venv/bin/python -m playwright install --with-deps chromium
  echo "Playwright's chromium: $(.venv/bin/python -c 'from playwright.sync_api import sync_playwright as p
with p() as pw: print(pw.chromium.executable_path)')"
fi
