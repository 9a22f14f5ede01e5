#!/usr/bin/env bash
# Install the Debian packages the tests use, without configuring or starting any
# system service: Postfix (the enforcement tests; debconf "No configuration"),
# faketime (.ci/run's shifted-clock pass) and unbound (the DNSSEC and DANE tests start
# their own validating resolver on a loopback port; the system one is never started). A temporary policy-rc.d forbids service
# starts during the install. Does nothing when everything is already there.
set -euo pipefail
need=()
command -v postfix >/dev/null 2>&1 && command -v postmap >/dev/null 2>&1 || need+=(postfix)
command -v faketime >/dev/null 2>&1 || need+=(faketime)
command -v unbound >/dev/null 2>&1 || [ -x /usr/sbin/unbound ] || need+=(unbound)
[ "${#need[@]}" -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
had_rc=0
[ -e /usr/sbin/policy-rc.d ] && had_rc=1
if [ "$had_rc" -eq 0 ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 755 /usr/sbin/policy-rc.d
fi
trap '[ "$had_rc" -eq 1 ] || $SUDO rm -f /usr/sbin/policy-rc.d' EXIT
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
