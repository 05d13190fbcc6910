#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Install the Debian packages listed in scripts/deps/*.txt that are missing.
# Runs apt-get only when something is missing, so a second `make` is quiet.
set -eu
cd "$(dirname "$0")/.."
pkgs=$(cat scripts/deps/*.txt | sed 's/#.*//' | tr -s ' \n' '\n' | sed '/^$/d' | sort -u)
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends $missing
