#!/usr/bin/env bash
# NAME
#   e2e-install.sh - install what the end-to-end tests need from Debian's packages
#
# DESCRIPTION
#   Idempotent and quiet: a package already installed is not installed again, and `apt-get update`
#   runs only when something is missing (and then at most once per run). Each group of the e2e suite
#   has one `need_*` line below; later suites (Postfix, Chromium, ...) add theirs the same way.
#
#   Debian starts a daemon's own service on installation. Our tests run their own instances on high
#   ports, bound to loopback only, so every service installed here is stopped, disabled and masked:
#   nothing of ours may hold the system's port 53 (or 25, ...). While this script installs, a
#   policy-rc.d forbids service starts altogether, so the package's daemon never starts at all.
#
# USAGE
#   bash .ci/e2e-install.sh          (as root, or with passwordless sudo)
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Packages wanted, with the binary whose presence shows the package is there, and the services the
# package brings that must not run.
#   DNS: NSD serves the fixture zones (test/e2e/fixtures); dig (dnsutils) is for debugging.
WANT_PACKAGES=()
STOP_SERVICES=()

need() { # need PACKAGE BINARY [SERVICE...]
  local pkg=$1 bin=$2
  shift 2
  if ! command -v "$bin" >/dev/null 2>&1 && ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    WANT_PACKAGES+=("$pkg")
  fi
  STOP_SERVICES+=("$@")
}

need_dns() {
  need nsd nsd nsd.service
  need dnsutils dig
}

# Later suites: need_mta() { need postfix postfix postfix.service; }, need_browser() { ... }
need_dns

# quietly COMMAND...: runs it, and shows its output only if it fails.
quietly() {
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" >&2
    echo "e2e-install: failed: $*" >&2
    return 1
  fi
}

# A policy-rc.d that answers 101 ("action forbidden") keeps invoke-rc.d from starting the services
# the packages bring. It is removed afterwards only if this script put it there.
POLICY=/usr/sbin/policy-rc.d
policy_ours=0
cleanup() {
  if [ "$policy_ours" -eq 1 ]; then $SUDO rm -f "$POLICY"; fi
}
trap cleanup EXIT

if [ "${#WANT_PACKAGES[@]}" -gt 0 ]; then
  if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod 755 "$POLICY"
    policy_ours=1
  fi
  echo "e2e-install: installing ${WANT_PACKAGES[*]}"
  quietly $SUDO apt-get update -qq
  quietly $SUDO apt-get install -y -qq --no-install-recommends "${WANT_PACKAGES[@]}"
fi

# Whatever the history of this machine, the packages' own daemons stay down. systemctl exists
# only where systemd runs; without it, invoke-rc.d/service stop the SysV script if one is running.
for svc in "${STOP_SERVICES[@]}"; do
  name=${svc%.service}
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl stop "$svc" >/dev/null 2>&1 || true
    $SUDO systemctl disable "$svc" >/dev/null 2>&1 || true
    $SUDO systemctl mask "$svc" >/dev/null 2>&1 || true
  elif [ -x "/etc/init.d/$name" ]; then
    $SUDO "/etc/init.d/$name" stop >/dev/null 2>&1 || true
  fi
done

# Report what is there, one line each, so a CI log shows the versions the tests ran against.
echo "e2e-install: $(nsd -v 2>&1 | head -n 1)"
echo "e2e-install: $(dig -v 2>&1 | head -n 1)"
