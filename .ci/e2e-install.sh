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

#   DNSBL: rbldnsd serves `blocksmith export rbldnsd`'s files in test/e2e/dnsbl (the same answers
#   as BlockSmith's own zone).
need_dnsbl() {
  need rbldnsd rbldnsd rbldnsd.service
}

need_dns
need_redis
need_dnsbl

# quietly COMMAND...: runs it, and shows its output only if it fails.
quietly() {
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" >&2
    echo "e2e-install: failed: $*" >&2
    return 1
  fi
}

# ==== MTA suites (test/e2e/postfix, test/e2e/exim) =============================================
# Debian 12's Postfix and Exim, started by the tests themselves on high loopback ports with their
# own config folders (test/e2e/helpers/postfix.ts, exim.ts); the packages' own daemons never run.
#
# - postfix is installed from Debian with debconf's "No configuration": no /etc/postfix/main.cf,
#   no service; the policy-rc.d below keeps its init script from starting anything, and the
#   loop after the install stops, disables and masks postfix.service whatever happened before.
# - exim4-daemon-light conflicts with postfix (both provide mail-transport-agent), so it cannot
#   be installed beside it. Its .deb is downloaded with `apt-get download` and only unpacked
#   (`dpkg-deb -x`) into $EXIM_ROOT: the one binary the tests run as `exim4 -C FILE -bdf -oX
#   PORT`, never installed, never started as a service. What it links against is installed as
#   ordinary packages, and the Debian-exim user its binary was built for is created the way
#   exim4-base's postinst creates it.
# - exim4-daemon-heavy is unpacked the same way into $EXIM_HEAVY_ROOT for the gate suite
#   (test/e2e/gate/exim-gate.test.ts): it is the Debian build with PROXY support (hosts_proxy),
#   which the light daemon lacks. Its further libraries are installed as ordinary packages.
# - unshare (util-linux) runs the DNSBL suite's Postfix in a mount namespace of its own.
EXIM_ROOT=/opt/blocksmith-e2e/exim4
EXIM_LIBS=(libcrypt1 libdb5.3 libgnutls-dane0 libgnutls30 libidn12 libidn2-0 libnsl2 libpcre2-8-0)
EXIM_HEAVY_ROOT=/opt/blocksmith-e2e/exim4-heavy
EXIM_HEAVY_LIBS=(libldap-2.5-0 libmariadb3 libpam0g libperl5.36 libpq5 libsasl2-2 libspf2-2 libsqlite3-0)
need_mta() {
  need postfix postfix postfix.service
  need util-linux unshare
  local lib
  for lib in "${EXIM_LIBS[@]}" "${EXIM_HEAVY_LIBS[@]}"; do need "$lib" "/nonexistent/$lib"; done
}
need_mta
if [[ " ${WANT_PACKAGES[*]} " == *" postfix "* ]]; then
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
fi
if [ ! -x "$EXIM_ROOT/usr/sbin/exim4" ]; then
  exim_tmp=$(mktemp -d)
  # package lists may be missing on a fresh machine: update once, then try again
  if ! (cd "$exim_tmp" && quietly apt-get download exim4-daemon-light); then
    quietly $SUDO apt-get update -qq
    (cd "$exim_tmp" && quietly apt-get download exim4-daemon-light)
  fi
  $SUDO mkdir -p "$EXIM_ROOT"
  $SUDO dpkg-deb -x "$exim_tmp"/exim4-daemon-light_*.deb "$EXIM_ROOT"
  rm -rf "$exim_tmp"
  echo "e2e-install: unpacked exim4-daemon-light into $EXIM_ROOT"
fi
if [ ! -x "$EXIM_HEAVY_ROOT/usr/sbin/exim4" ]; then
  exim_tmp=$(mktemp -d)
  if ! (cd "$exim_tmp" && quietly apt-get download exim4-daemon-heavy); then
    quietly $SUDO apt-get update -qq
    (cd "$exim_tmp" && quietly apt-get download exim4-daemon-heavy)
  fi
  $SUDO mkdir -p "$EXIM_HEAVY_ROOT"
  $SUDO dpkg-deb -x "$exim_tmp"/exim4-daemon-heavy_*.deb "$EXIM_HEAVY_ROOT"
  rm -rf "$exim_tmp"
  echo "e2e-install: unpacked exim4-daemon-heavy into $EXIM_HEAVY_ROOT"
fi
if ! getent passwd Debian-exim >/dev/null; then
  quietly $SUDO adduser --system --group --quiet --home /var/spool/exim4 --no-create-home \
    --disabled-login --force-badname Debian-exim
fi
# ==== end of the MTA suites' block ==============================================================

# ==== portal suite (test/e2e/portal) ============================================================
# Debian's chromium, driven headless by playwright-core (a devDependency; no browser download):
# test/e2e/portal/browser.ts launches /usr/bin/chromium with a fresh --user-data-dir per run.
# It brings no service.
need_portal() {
  need chromium chromium
}
need_portal
# ==== end of the portal suite's block ===========================================================

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
echo "e2e-install: postfix $(postconf -dh mail_version 2>/dev/null || echo '?')"
echo "e2e-install: $("$EXIM_ROOT/usr/sbin/exim4" -bV 2>/dev/null | head -n 1 || echo 'exim ?')"
echo "e2e-install: exim4-daemon-heavy $({ "$EXIM_HEAVY_ROOT/usr/sbin/exim4" -bV 2>/dev/null || true; } | grep -q PROXY && echo 'with PROXY support' || echo '? (no PROXY support)')"
echo "e2e-install: $(chromium --version 2>/dev/null | head -n 1 || echo 'chromium ?')" # portal suite
