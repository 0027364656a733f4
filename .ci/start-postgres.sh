#!/usr/bin/env bash
# Start a private, throw-away PostgreSQL cluster on loopback for the test suite.
# Prints the URL to use; the cluster lives in $1 (a fresh directory) until stopped with
#   pg_ctl -D "$1/data" stop
set -euo pipefail
dir="$1"
port="${2:-55432}"
pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
if [[ -z "$pgbin" ]]; then
  echo "PostgreSQL server binaries not found under /usr/lib/postgresql" >&2
  exit 1
fi
run_as=()
if [[ "$(id -u)" == "0" ]]; then
  # the server refuses to run as root
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
  chown postgres "$dir"
  run_as=(runuser -u postgres --)
fi
"${run_as[@]}" "$pgbin/initdb" -D "$dir/data" -U vaultsync -A trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1
"${run_as[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
echo "postgresql://vaultsync@127.0.0.1:$port/postgres"
