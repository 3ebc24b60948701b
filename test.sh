#!/usr/bin/env bash
# test.sh: run softfk's whole test suite (unit, end-to-end against a real
# PostgreSQL, fuzz seeds). The tests start their own throwaway Postgres from
# the local installation; when none is found and we are root, this script
# installs Debian's postgresql package first. Extra arguments go to go test.
set -euo pipefail
cd "$(dirname "$0")"

have_postgres() {
	command -v initdb >/dev/null 2>&1 && return 0
	command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ] && return 0
	compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

if ! have_postgres; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "test.sh: no PostgreSQL server found; installing Debian's postgresql package" >&2
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
	else
		echo "test.sh: no PostgreSQL server found (initdb); install one, e.g. apt-get install postgresql" >&2
		exit 1
	fi
fi

go vet ./...
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "test.sh: gofmt would change: $unformatted" >&2
	exit 1
fi
go test -p 1 -count=1 -timeout 30m "$@" ./...
