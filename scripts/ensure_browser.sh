#!/usr/bin/env bash
# make test's browser test drives JupyterLab in headless Chromium: find one, or get one, or say what to run.
# As root on Debian: Debian's chromium. Elsewhere: Playwright's own build (it downloads from Playwright's site).
set -uo pipefail
playwright=${1:-.venv/bin/playwright}
[ -n "${SDTUTORIAL_CHROMIUM:-}" ] && exit 0
command -v chromium >/dev/null && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "make test: installing Chromium for the browser test (apt-get install chromium)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null && exit 0
fi
"$playwright" install chromium >/dev/null 2>&1 && exit 0
echo "make test: the browser test needs Chromium: run 'sudo apt-get install chromium' (Debian) or" \
  "'$playwright install chromium', or set SDTUTORIAL_CHROMIUM to a Chromium binary" >&2
exit 1
