#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Install the Debian packages listed in scripts/deps/*.txt that are missing.
# Runs apt-get only when something is missing, so a second `make` is quiet.
set -eu
cd "$(dirname "$0")/.."
pkgs=$(cat scripts/deps/*.txt | sed 's/#.*//' | tr -s ' \n' '\n' | sed '/^$/d' | sort -u)
installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}
# A line "a|b" takes the first of a, b that is installed, else the first
# that apt knows (package names differ between Debian and Ubuntu releases).
missing=""
for p in $pkgs; do
	case "$p" in
	*"|"*)
		choice=""
		for alt in $(echo "$p" | tr '|' ' '); do
			if installed "$alt"; then choice=installed; break; fi
		done
		[ "$choice" = installed ] && continue
		for alt in $(echo "$p" | tr '|' ' '); do
			if apt-cache show "$alt" >/dev/null 2>&1; then choice=$alt; break; fi
		done
		[ -n "$choice" ] || choice=$(echo "$p" | cut -d'|' -f1)
		missing="$missing $choice"
		;;
	*)
		installed "$p" || missing="$missing $p"
		;;
	esac
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends $missing
