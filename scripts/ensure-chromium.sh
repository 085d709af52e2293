#!/usr/bin/env bash
# The UI tests drive Debian's Chromium (Playwright cannot download browsers here).
# Install it when missing and we may (root); otherwise say how, and the browser tests skip.
set -u
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "installing Debian chromium for the browser tests..." >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
    || echo "could not install chromium; browser tests will be skipped" >&2
else
  echo "no /usr/bin/chromium: run 'sudo apt-get install chromium' for the browser tests" >&2
fi
exit 0
