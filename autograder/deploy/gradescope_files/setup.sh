#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu), with the
# zip's contents in /autograder/source. It makes what `make setup` makes here: .venv with the
# pinned requirements, and MNIST unpacked and verified.
set -euo pipefail
case "$0" in */*) cd "${0%/*}" ;; esac  # the folder of this script

PYTHON=python3.11  # the version requirements.txt is checked on; else the image's python3

apt_install() {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    apt_install "$PYTHON" "$PYTHON-venv" || PYTHON=python3
fi
if ! "$PYTHON" -c "import ensurepip, venv" >/dev/null 2>&1; then
    apt_install "$PYTHON-venv"
fi
if ! command -v make >/dev/null 2>&1; then
    apt_install make
fi
echo "setup.sh: building .venv with $("$PYTHON" --version 2>&1)"
make setup PYTHON="$PYTHON"
