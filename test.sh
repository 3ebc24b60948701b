#!/usr/bin/env bash
# test.sh: run softfk's whole test suite (unit, end-to-end against a real
# PostgreSQL, fuzz seeds). The tests start their own throwaway Postgres from
# the local installation, and others run a Java program on pgjdbc, Python
# ones on psycopg, on asyncpg and on SQLAlchemy and Django with psycopg2, a
# Ruby one on Active Record, a PHP one on PDO and Node.js ones on
# node-postgres and Postgres.js; when any of these is missing and we are
# root, this script installs Debian's packages for them first (postgresql,
# default-jdk-headless, libpostgresql-jdbc-java, python3-psycopg,
# python3-asyncpg, python3-sqlalchemy, python3-django, python3-psycopg2,
# ruby-activerecord, ruby-pg, php-cli, php-pgsql, nodejs and npm), and it
# installs the Node.js programs' packages from the npm registry with npm ci
# (pinned by its package-lock.json) into
# integration/testdata/node/node_modules. Extra arguments go to go test.
set -euo pipefail
cd "$(dirname "$0")"

have_postgres() {
	command -v initdb >/dev/null 2>&1 && return 0
	command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ] && return 0
	compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

missing=()
have_postgres || missing+=(postgresql)
command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
[ -f "${SOFTFK_JDBC_JAR:-/usr/share/java/postgresql.jar}" ] || missing+=(libpostgresql-jdbc-java)
/usr/bin/python3 -c 'import psycopg' >/dev/null 2>&1 || python3 -c 'import psycopg' >/dev/null 2>&1 || missing+=(python3-psycopg)
/usr/bin/python3 -c 'import asyncpg' >/dev/null 2>&1 || python3 -c 'import asyncpg' >/dev/null 2>&1 || missing+=(python3-asyncpg)
/usr/bin/python3 -c 'import sqlalchemy, psycopg2' >/dev/null 2>&1 || python3 -c 'import sqlalchemy, psycopg2' >/dev/null 2>&1 || missing+=(python3-sqlalchemy python3-psycopg2)
/usr/bin/python3 -c 'import django, psycopg2' >/dev/null 2>&1 || python3 -c 'import django, psycopg2' >/dev/null 2>&1 || missing+=(python3-django python3-psycopg2)
ruby -e 'require "active_record"; require "pg"' >/dev/null 2>&1 || missing+=(ruby-activerecord ruby-pg)
php -r 'exit(extension_loaded("pdo_pgsql") ? 0 : 1);' >/dev/null 2>&1 || missing+=(php-cli php-pgsql)
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "test.sh: installing Debian packages: ${missing[*]}" >&2
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	else
		echo "test.sh: missing ${missing[*]} (PostgreSQL server, JDK, pgjdbc, psycopg, asyncpg, SQLAlchemy, Django, psycopg2, Active Record, PHP's PDO, Node.js); install them, e.g. apt-get install ${missing[*]}" >&2
		exit 1
	fi
fi

node_dir=integration/testdata/node
if [ ! -f "$node_dir/node_modules/.package-lock.json" ] || [ "$node_dir/package-lock.json" -nt "$node_dir/node_modules/.package-lock.json" ]; then
	echo "test.sh: installing the Node.js tests' packages (npm ci in $node_dir)" >&2
	npm ci --prefix "$node_dir" --no-audit --no-fund --loglevel=error >&2
fi

go vet ./...
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "test.sh: gofmt would change: $unformatted" >&2
	exit 1
fi
go test -p 1 -count=1 -timeout 30m "$@" ./...
