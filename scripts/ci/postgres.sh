#!/usr/bin/env bash
# PostgreSQL for the test suites (store suite, idempotency, replicas): makes sure a server answers
# on 127.0.0.1:5432 and lets user `postgres` in without a password from 127.0.0.1 (the tests'
# default TEST_DATABASE_URL, postgres://postgres@127.0.0.1:5432/postgres). Each test creates a
# database of its own there and drops it afterwards.
#
# Quick and idempotent: when PostgreSQL already answers, it only checks the login. Otherwise it
# installs PostgreSQL from the Debian packages (apt-get), creates/starts the `main` cluster with
# pg_ctlcluster (no systemd needed), trusts 127.0.0.1 and waits until it is ready. It fails
# loudly when it cannot, so CI never runs the suites without their PostgreSQL half.
#
# With TEST_DATABASE_URL set, that server is used instead: this script only checks it.
set -euo pipefail

HOST=127.0.0.1
# Overridable only to try this script on a spare cluster; the tests expect 5432 and `main`.
PORT=${PG_CI_PORT:-5432}
CLUSTER=${PG_CI_CLUSTER:-main}
say() { printf 'postgres.sh: %s\n' "$*"; }
die() {
  printf '\npostgres.sh: ERROR: %s\n' "$*" >&2
  exit 1
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

ready() {
  command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h "$HOST" -p "$PORT" -t 2
}

# The tests log in as postgres without a password.
login_ok() {
  PGCONNECT_TIMEOUT=5 psql -w -X -q -A -t -h "$HOST" -p "$PORT" -U postgres -d postgres \
    -c 'SELECT 1' >/dev/null 2>&1
}

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  command -v psql >/dev/null 2>&1 || die "TEST_DATABASE_URL is set but psql is missing (apt-get install postgresql-client)"
  PGCONNECT_TIMEOUT=5 psql -w -X -q -A -t "$TEST_DATABASE_URL" -c 'SELECT 1' >/dev/null ||
    die "TEST_DATABASE_URL is set but its server does not let the tests in"
  say "TEST_DATABASE_URL answers; nothing to do"
  exit 0
fi

if ready && login_ok; then
  say "PostgreSQL is ready on $HOST:$PORT"
  exit 0
fi

# --- install (only what is missing) --------------------------------------------------------
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || ! command -v pg_ctlcluster >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 ||
    die "PostgreSQL is not running on $HOST:$PORT and this machine has no apt-get: install and start PostgreSQL (trust auth for 127.0.0.1), or set TEST_DATABASE_URL"
  say "installing PostgreSQL from the Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq || die "apt-get update failed"
  as_root apt-get install -y -qq --no-install-recommends postgresql postgresql-client >/dev/null ||
    die "apt-get install postgresql failed"
fi

version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
[ -n "$version" ] || die "no PostgreSQL version under /usr/lib/postgresql after installing"
conf_dir=/etc/postgresql/$version/$CLUSTER

if [ ! -d "$conf_dir" ]; then
  say "creating cluster $version/$CLUSTER on port $PORT"
  as_root pg_createcluster --port "$PORT" "$version" "$CLUSTER" >/dev/null ||
    die "pg_createcluster $version $CLUSTER failed"
fi

# Trust local TCP logins (the tests use no password); first matching line wins, so prepend.
hba=$conf_dir/pg_hba.conf
if ! as_root grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
  say "trusting 127.0.0.1 in $hba"
  tmp=$(mktemp)
  {
    echo "# added by scripts/ci/postgres.sh: the test suites log in without a password"
    echo "host all all 127.0.0.1/32 trust"
    echo "host all all ::1/128 trust"
    as_root cat "$hba"
  } >"$tmp"
  as_root cp "$tmp" "$hba"
  rm -f "$tmp"
fi

cluster_port=$(as_root sed -n 's/^[[:space:]]*port[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$conf_dir/postgresql.conf" | head -n 1)
if [ -n "$cluster_port" ] && [ "$cluster_port" != "$PORT" ]; then
  die "cluster $version/$CLUSTER listens on port $cluster_port, not $PORT: set port = $PORT in $conf_dir/postgresql.conf, or point TEST_DATABASE_URL at it"
fi

log=/var/log/postgresql/postgresql-$version-$CLUSTER.log
if as_root pg_ctlcluster "$version" "$CLUSTER" status >/dev/null 2>&1; then
  say "reloading cluster $version/$CLUSTER"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$CLUSTER" reload ||
    die "pg_ctlcluster $version $CLUSTER reload failed"
else
  say "starting cluster $version/$CLUSTER"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$CLUSTER" start ||
    die "pg_ctlcluster $version $CLUSTER start failed; log: $log"
fi

for _ in $(seq 1 60); do
  if ready && login_ok; then
    say "PostgreSQL $version is ready on $HOST:$PORT"
    exit 0
  fi
  sleep 1
done
ready || die "PostgreSQL did not become ready on $HOST:$PORT within 60 s; log: $log"
die "PostgreSQL answers on $HOST:$PORT but user postgres cannot log in without a password: check $hba"
