#!/usr/bin/env bash
# NAME
#   bench/fronts/install.sh - install the peers bench/fronts compares BlockSmith with
#
# DESCRIPTION
#   postfwd (postfwd2, a Postfix policy server), rbldnsd (a DNSBL server) and dnsperf (the DNS
#   load generator), from Debian's packages; their own services are never started (bench/fronts
#   runs its own instances on free loopback ports). Idempotent. Run as root or with sudo.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
missing=()
for pair in postfwd:postfwd2 rbldnsd:rbldnsd dnsperf:dnsperf; do
  command -v "${pair#*:}" >/dev/null 2>&1 || missing+=("${pair%%:*}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  POLICY=/usr/sbin/policy-rc.d
  ours=0
  if [ ! -e "$POLICY" ]; then printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null; $SUDO chmod 755 "$POLICY"; ours=1; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ "$ours" -eq 1 ]; then $SUDO rm -f "$POLICY"; fi
fi
for svc in postfwd rbldnsd; do
  if [ -x "/etc/init.d/$svc" ]; then $SUDO "/etc/init.d/$svc" stop >/dev/null 2>&1 || true; fi
done
echo "bench/fronts: $(postfwd2 --version 2>&1 | head -n 1); rbldnsd $(dpkg-query -W -f='${Version}' rbldnsd); $(dnsperf -h 2>&1 | grep -m1 -i version || dpkg-query -W -f='dnsperf ${Version}' dnsperf)"
