#!/usr/bin/env bash
# install-tesseract.sh - make sure the Tesseract OCR engine (the `tesseract`
# command with English data) is installed; the `local` model plugin uses it to
# transcribe images. Installs tesseract-ocr and tesseract-ocr-eng with
# apt-get when missing (see scripts/lib/apt-install.sh).
#
# scripts/test.sh runs every scripts/install-*.sh before the tests.
set -euo pipefail
source "$(dirname "$0")/lib/apt-install.sh"
apt_install install-tesseract.sh "command -v tesseract" \
  "The \`local\` model plugin needs it to transcribe images; everything else works without it.
Install it by hand, one of:
  * Debian/Ubuntu:  sudo apt-get install tesseract-ocr tesseract-ocr-eng
  * Fedora:         sudo dnf install tesseract tesseract-langpack-eng
  * Alpine:         apk add tesseract-ocr tesseract-ocr-data-eng
  * Homebrew:       brew install tesseract
Afterwards \`tesseract --version\` must work." \
  tesseract-ocr tesseract-ocr-eng
