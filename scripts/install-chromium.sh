#!/usr/bin/env bash
# install-chromium.sh - make sure a headless Chromium is installed; the jobs
# UI test (api/admin_jobs_browser_test.go) loads River UI in it. Installs
# Debian's chromium package with apt-get when missing (see
# scripts/lib/apt-install.sh).
#
# scripts/test.sh runs every scripts/install-*.sh before the tests.
set -euo pipefail
source "$(dirname "$0")/lib/apt-install.sh"
apt_install install-chromium.sh "command -v chromium || command -v chromium-browser" \
  "Only the jobs UI browser test needs it (it skips, naming this script, without it).
Install it by hand: sudo apt-get install chromium (Debian) or chromium-browser (Ubuntu)." \
  chromium
