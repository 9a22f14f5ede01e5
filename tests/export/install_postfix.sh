#!/usr/bin/env bash
# Install Debian's postfix for the @pytest.mark.postfix tests without configuring
# or starting a system Postfix: debconf "No configuration", and a temporary
# policy-rc.d that forbids service starts during the install.
set -euo pipefail
if command -v postfix >/dev/null 2>&1 && command -v postmap >/dev/null 2>&1; then
  exit 0
fi
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
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postfix >/dev/null
