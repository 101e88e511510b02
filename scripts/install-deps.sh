#!/usr/bin/env bash
# install-deps.sh: install the system packages the tests need (a real Postfix
# and Dovecot for internal/mailstack, gpg for the interoperability tests,
# gpg-wks-client and dirmngr for the Web Key Directory tests, headless
# Chromium for the web view's browser tests).
# Does nothing when every binary is already there. Debian/Ubuntu, as root.
set -euo pipefail

pkgs=(postfix dovecot-imapd dovecot-lmtpd gnupg gpg-wks-client dirmngr ca-certificates chromium)
bins=(/usr/sbin/postfix /usr/lib/postfix/sbin/master /usr/sbin/dovecot /usr/lib/dovecot/imap /usr/lib/dovecot/lmtp /usr/bin/gpg /usr/lib/gnupg/gpg-wks-client /usr/bin/dirmngr /usr/sbin/update-ca-certificates /etc/ssl/certs/ca-certificates.crt /usr/bin/chromium)

missing=()
for b in "${bins[@]}"; do
	[ -e "$b" ] || missing+=("$b")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

echo "install-deps: missing ${missing[*]}; installing ${pkgs[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to run apt-get" >&2; exit 1; }
	sudo=(sudo)
fi
command -v apt-get >/dev/null || { echo "install-deps: no apt-get; install ${pkgs[*]} by hand" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
# No system-wide Postfix configuration: the tests generate their own.
echo "postfix postfix/main_mailer_type select No configuration" | "${sudo[@]}" debconf-set-selections
# Without systemd, invoke-rc.d would start the system Postfix and Dovecot
# (ports 25, 143, 993) from the package scripts: forbid it while installing.
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
	"${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
	made_policy=1
fi
cleanup() { [ "$made_policy" = 1 ] && "${sudo[@]}" rm -f /usr/sbin/policy-rc.d; return 0; }
trap cleanup EXIT

"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${pkgs[@]}"
