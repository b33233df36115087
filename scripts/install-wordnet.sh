#!/usr/bin/env bash
# install-wordnet.sh - make sure the WordNet lexical database (Debian's
# wordnet-base: index.*, data.* and *.exc under /usr/share/wordnet, or the
# folder in CONSILIUM_AI_WORDNET_DIR) is installed; the `local` model plugin
# and full-text search use it to match other forms and relatives of a word
# ("taxes" → "tax", "pay" → "payment"). Installs wordnet-base with apt-get
# when missing (see scripts/lib/apt-install.sh).
#
# scripts/test.sh runs every scripts/install-*.sh before the tests.
set -euo pipefail
source "$(dirname "$0")/lib/apt-install.sh"
dir="${CONSILIUM_AI_WORDNET_DIR:-/usr/share/wordnet}"
apt_install install-wordnet.sh "test -f '$dir/index.noun' -a -f '$dir/data.noun'" \
  "Retrieval works without it, matching words only as written.
Install it by hand: sudo apt-get install wordnet-base (Debian/Ubuntu), or put the
WordNet 3.0 database files in a folder and set ai.wordnet_dir to it." \
  wordnet-base
