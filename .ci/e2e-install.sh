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

#   Redis: the Redis store's tests and multi-node tests. Machines of this project start one on
#   127.0.0.1:6379 before a session; a fresh machine gets it here, started below if none answers.
need_redis() {
  need redis-server redis-server
}

# Later suites: need_mta() { need postfix postfix postfix.service; }, need_browser() { ... }
need_dns
need_redis

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

# Redis on 127.0.0.1:6379: the machine's, when one answers; otherwise ours, in memory only, bound to
# loopback. .ci/run stops it at the end when the marker says this script started it.
REDIS_MARKER="${BLOCKSMITH_E2E_DIR:-.e2e}/redis-started-by-e2e-install"
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  mkdir -p "$(dirname "$REDIS_MARKER")"
  quietly redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no \
    --pidfile "$(pwd)/$(dirname "$REDIS_MARKER")/redis.pid" --logfile "$(pwd)/$(dirname "$REDIS_MARKER")/redis.log"
  for _ in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "$(pwd)/$(dirname "$REDIS_MARKER")/redis.pid" > "$REDIS_MARKER"
  echo "e2e-install: started redis-server on 127.0.0.1:6379"
fi

# Report what is there, one line each, so a CI log shows the versions the tests ran against.
echo "e2e-install: $(nsd -v 2>&1 | head -n 1)"
echo "e2e-install: $(dig -v 2>&1 | head -n 1)"
echo "e2e-install: $(redis-server --version 2>&1 | head -n 1)"
