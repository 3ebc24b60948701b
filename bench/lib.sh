# shellcheck shell=bash
# lib.sh: helpers shared by the benchmark scripts in bench/. Source it, do
# not run it:
#
#   set -euo pipefail
#   BENCH_NAME=fk                  # prefix of error messages (default: the
#                                  # sourcing script's name without .sh)
#   # shellcheck source=lib.sh
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Sourcing only defines functions and a few globals; nothing starts until the
# script calls them. The usual order:
#
#   bench_args "$@"                --rounds, --duration, --clients, --threads,
#                                  --help (the script's header comment)
#   check_uint VAR...; check_seconds VAR...
#   cd "$REPO"
#   bench_find_tools postgresql [pgbouncer]
#                                  PGBIN, PGBENCH, PSQL (and PGBOUNCER); as
#                                  root installs what is missing with apt-get
#   bench_workdir                  WORK (mktemp -d) and the cleanup traps
#   free_port VAR                  a free 127.0.0.1 port, once per target
#   pg_settings PORT               PG_SETTINGS, the benchmark postgresql.conf;
#                                  CLUSTER_PORT, where sql and fk_schema go
#   start_cluster                  initdb + pg_ctl start; POSTMASTER;
#                                  huge pages when it can (HUGE_PAGES=off)
#   sql DB SQL...; fk_schema USERS  psql on the cluster; databases fk and nofk
#   softfk_config PORT UPSTREAM    SOFTFK_BIN and $WORK/softfk.yaml (nofk's FK)
#   start_relay VAR PORT UPSTREAM  bench/relay, built and started
#   spawn VAR LOG CMD...           any other proxy, stopped by cleanup
#   wait_ready NAME PORT PID LOG
#   then per round: rotate, cpu_ticks, parse_pgbench, ticks_us_per; and to
#   report: median, ratio, paired_ratio, write_summary.
#
# Everything a script started is stopped on exit (Ctrl-C included) by pid,
# in reverse order, and then the cluster is stopped and WORK removed. Nothing
# is ever stopped by name.

# Globals set here and used by the sourcing script.
# shellcheck disable=SC2034
{
	BENCH_DIR=$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd) # .../bench
	REPO=$(dirname "$BENCH_DIR")                            # the module root
	BENCH_SCRIPT=${BASH_SOURCE[1]:-$0}                      # who sourced us
	BENCH_NAME=${BENCH_NAME:-$(basename "$BENCH_SCRIPT" .sh)}
	IS_ROOT=false
	[[ $EUID -eq 0 ]] && IS_ROOT=true
	CLK_TCK=$(getconf CLK_TCK)
	WORK=
	PIDS=()     # processes the script started, stopped in reverse order
	POSTMASTER= # pid of our cluster's postmaster (started by pg_ctl, not a child)
	CLUSTER_PORT= # its port (set by pg_settings)
	HUGE_PAGES_NOTE= # why the cluster runs without huge pages, if it does
	HUGE_PAGES_RESTORE= # vm.nr_hugepages to set back on exit, if raised
	USED_PORTS=" "
	PGBENCH_CONN=(-h 127.0.0.1 -U postgres) # pgbench's options but -p
}

die() {
	echo "$BENCH_NAME: $*" >&2
	exit 1
}

# usage: the sourcing script's header comment (from line 2 up to its
# "set -euo pipefail" line), without the leading "# ".
usage() {
	sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$BENCH_SCRIPT"
}

# bench_args "$@": parse the options the scripts share into ROUNDS, DURATION,
# CLIENTS and THREADS; --help prints usage and exits.
bench_args() {
	while (($#)); do
		case $1 in
		-h | --help) usage; exit 0 ;;
		-r | --rounds | -d | --duration | -c | --clients | -j | --threads)
			[[ -n ${2:-} ]] || die "$1 needs a value" ;;
		*) die "unknown argument: $1 (see --help)" ;;
		esac
		case $1 in
		-r | --rounds) ROUNDS=$2 ;;
		-d | --duration) DURATION=$2 ;;
		-c | --clients) CLIENTS=$2 ;;
		-j | --threads) THREADS=$2 ;;
		esac
		shift 2
	done
}

# check_uint VAR...: die unless every named variable is a positive integer.
check_uint() {
	local var
	for var; do
		[[ ${!var} =~ ^[1-9][0-9]*$ ]] || die "$var must be a positive integer, not '${!var}'"
	done
}

# check_seconds VAR...: die unless every named variable is a whole number of
# seconds (0 included).
check_seconds() {
	local var
	for var; do
		[[ ${!var} =~ ^[0-9]+$ ]] || die "$var must be a whole number of seconds, not '${!var}'"
	done
}

# ---------------------------------------------------------------- tools

# find_pg_bindir prints the first directory holding initdb, pg_ctl and
# postgres: from PATH, then pg_config --bindir, then /usr/lib/postgresql/*/bin
# newest version first.
find_pg_bindir() {
	local dir candidates=()
	if command -v initdb >/dev/null; then
		candidates+=("$(dirname "$(readlink -f "$(command -v initdb)")")")
	fi
	if command -v pg_config >/dev/null; then
		candidates+=("$(pg_config --bindir)")
	fi
	while IFS= read -r dir; do
		candidates+=("$dir")
	done < <(compgen -G '/usr/lib/postgresql/*/bin' | sort -rV)
	for dir in "${candidates[@]}"; do
		if [[ -x $dir/initdb && -x $dir/pg_ctl && -x $dir/postgres ]]; then
			echo "$dir"
			return 0
		fi
	done
	return 1
}

find_pgbouncer() {
	PATH=$PATH:/usr/sbin:/sbin command -v pgbouncer
}

# find_client NAME: NAME from $PGBIN, else from PATH.
find_client() {
	if [[ -x $PGBIN/$1 ]]; then
		echo "$PGBIN/$1"
	else
		command -v "$1"
	fi
}

# bench_find_tools postgresql [pgbouncer]: set PGBIN, PGBENCH and PSQL (and
# PGBOUNCER when asked), installing missing packages with apt-get when run as
# root; check go, and runuser and a postgres user when root.
bench_find_tools() {
	local want_pgbouncer=false missing=() pkg
	for pkg; do
		case $pkg in
		postgresql) ;;
		pgbouncer) want_pgbouncer=true ;;
		*) die "bench_find_tools: unknown package $pkg" ;;
		esac
	done
	find_pg_bindir >/dev/null || missing+=(postgresql)
	$want_pgbouncer && ! find_pgbouncer >/dev/null && missing+=(pgbouncer)
	if ((${#missing[@]})); then
		$IS_ROOT || die "missing ${missing[*]}; install with: sudo apt-get install -y ${missing[*]}"
		echo "== installing ${missing[*]} with apt-get"
		apt-get update
		DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
	fi
	PGBIN=$(find_pg_bindir) || die "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found"
	PGBENCH=$(find_client pgbench) || die "pgbench not found (Debian: postgresql-client)"
	PSQL=$(find_client psql) || die "psql not found (Debian: postgresql-client)"
	if $want_pgbouncer; then
		PGBOUNCER=$(find_pgbouncer) || die "pgbouncer not found"
	fi
	command -v go >/dev/null || die "go not found (needed to build the relay and softfk)"
	if $IS_ROOT; then
		local runs="initdb and postgres"
		if $want_pgbouncer; then runs="initdb, postgres and pgbouncer"; fi
		id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' user to run $runs"
		command -v runuser >/dev/null || die "running as root needs runuser (util-linux)"
	fi
}

# ---------------------------------------------------------------- lifecycle

# bench_workdir: create WORK (owned by postgres when root) and install the
# traps that stop everything and remove it on exit.
bench_workdir() {
	WORK=$(mktemp -d -t softfk-bench.XXXXXX)
	if $IS_ROOT; then chown postgres: "$WORK"; fi
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# alive PID: true while the process exists and is not a zombie.
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# stop_pid PID SIGNAL TIMEOUT_S: send SIGNAL, wait up to TIMEOUT_S for the
# process to end, then SIGKILL it; reap it if it is our child.
stop_pid() {
	local pid=$1 sig=$2 i
	kill -"$sig" "$pid" 2>/dev/null || return 0
	for ((i = 0; i < $3 * 10; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	if alive "$pid"; then
		echo "$BENCH_NAME: pid $pid ignored SIG$sig, killing it" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
}

cleanup() {
	set +e
	local i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${PIDS[i]}" TERM 5
	done
	# SIGINT is PostgreSQL's fast shutdown.
	[[ -n $POSTMASTER ]] && stop_pid "$POSTMASTER" INT 30
	[[ -n $HUGE_PAGES_RESTORE ]] && echo "$HUGE_PAGES_RESTORE" >/proc/sys/vm/nr_hugepages
	[[ -n $WORK ]] && rm -rf "$WORK"
}

# as_pg CMD...: run CMD in $WORK as the cluster's owner (postgres if root).
as_pg() {
	if $IS_ROOT; then
		(cd "$WORK" && runuser -u postgres -- "$@")
	else
		(cd "$WORK" && "$@")
	fi
}

# free_port VAR: set VAR to a TCP port on 127.0.0.1 that nothing listens on
# and that this script has not handed out yet (below Linux's ephemeral range).
free_port() {
	local port
	while :; do
		port=$((20000 + RANDOM % 12000))
		[[ $USED_PORTS == *" $port "* ]] && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			USED_PORTS+="$port "
			printf -v "$1" '%s' "$port"
			return 0
		fi
	done
}

# pg_settings PORT: set PG_SETTINGS, the postgresql.conf lines of every
# benchmark cluster (needs WORK and CLIENTS). Benchmark settings, never for
# data you keep.
pg_settings() {
	CLUSTER_PORT=$1
	# shellcheck disable=SC2034 # used by the caller and start_cluster
	PG_SETTINGS=(
		"listen_addresses = '127.0.0.1'"
		"port = $1"
		"unix_socket_directories = '$WORK'"
		"max_connections = $((CLIENTS + 20 > 100 ? CLIENTS + 20 : 100))"
		"shared_buffers = 128MB"
		"fsync = off"
		"synchronous_commit = off"
	)
}

# sql DB SQL...: run each SQL directly on the cluster (one psql -c each, so
# VACUUM works), printing unaligned tuples; dies showing psql's error.
sql() {
	local db=$1 args=() out
	shift
	for s; do args+=(-c "$s"); done
	out=$("$PSQL" -X -q -tA -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$CLUSTER_PORT" -U postgres -d "$db" "${args[@]}" 2>&1) ||
		die "psql on database $db failed: $out"
	[[ -z $out ]] || echo "$out"
}

# fk_schema USERS: create databases fk and nofk, each with users (id bigint
# primary key, name text; USERS rows) and orders (id bigserial primary key,
# user_id bigint not null, amount int; autovacuum off) with an index on
# orders(user_id); in fk, orders.user_id REFERENCES users(id).
fk_schema() {
	local db ref
	echo "== schema: users ($1 rows), orders (+ index on user_id, autovacuum off); database fk with the FOREIGN KEY, nofk without"
	for db in fk nofk; do
		sql postgres "CREATE DATABASE $db"
		ref=
		[[ $db == fk ]] && ref=" REFERENCES users (id)"
		sql "$db" "CREATE TABLE users (id bigint PRIMARY KEY, name text)" \
			"INSERT INTO users SELECT i, 'user ' || i FROM generate_series(1, $1) i" \
			"CREATE TABLE orders (id bigserial PRIMARY KEY, user_id bigint NOT NULL$ref, amount int)
				WITH (autovacuum_enabled = off)" \
			"CREATE INDEX orders_user_id_idx ON orders (user_id)" \
			"VACUUM ANALYZE users"
	done
}

# softfk_config LISTEN_PORT UPSTREAM_PORT: set SOFTFK_BIN (building bin/softfk
# when it is empty; run from $REPO) and write $WORK/softfk.yaml, which
# declares the soft FK orders(user_id) -> users(id) of database nofk (see
# fk_schema).
softfk_config() {
	if [[ -z ${SOFTFK_BIN:-} ]]; then
		go build -o bin/softfk ./cmd/softfk || die "could not build softfk (go build -o bin/softfk ./cmd/softfk)"
		SOFTFK_BIN=$REPO/bin/softfk
	fi
	[[ -x $SOFTFK_BIN ]] || die "SOFTFK_BIN $SOFTFK_BIN is not an executable"
	cat >"$WORK/softfk.yaml" <<EOF
listen: 127.0.0.1:$1
upstream: 127.0.0.1:$2
relationships:
  - database: nofk
    table: orders
    columns: [user_id]
    references: {table: users, columns: [id]}
EOF
}

# start_cluster: initdb a trust-auth cluster in $WORK/data with PG_SETTINGS
# and the huge_pages line huge_pages_setting adds, start it and set
# POSTMASTER. Prints the settings.
start_cluster() {
	echo "== PostgreSQL: $("$PGBIN/postgres" --version) from $PGBIN"
	as_pg "$PGBIN/initdb" -D "$WORK/data" -U postgres --auth=trust -E UTF8 --no-sync >"$WORK/initdb.log" 2>&1 ||
		die "initdb failed:$(echo; tail -20 "$WORK/initdb.log")"
	printf '%s\n' "${PG_SETTINGS[@]}" | as_pg tee -a "$WORK/data/postgresql.conf" >/dev/null
	huge_pages_setting
	echo "   throwaway cluster in $WORK, trust auth, settings:"
	printf '     %s\n' "${PG_SETTINGS[@]}"
	[[ -z $HUGE_PAGES_NOTE ]] || echo "     ($HUGE_PAGES_NOTE)"
	as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/postgres.log" -w -t 60 start >/dev/null ||
		die "PostgreSQL did not start:$(echo; tail -20 "$WORK/postgres.log")"
	POSTMASTER=$(head -1 "$WORK/data/postmaster.pid")
}

# huge_pages_setting: add "huge_pages = on" to PG_SETTINGS and the cluster's
# postgresql.conf when the kernel has, or (as root) can be given, enough free
# huge pages for the cluster's shared memory, "huge_pages = off" otherwise or
# when HUGE_PAGES=off; HUGE_PAGES_NOTE says why when it is off. As root it
# raises vm.nr_hugepages by what is missing, and cleanup sets it back.
#
# Why: with 4 KiB pages every new backend takes a page fault on its first
# touch of each page of shared memory, for the whole of a short round, while
# backends a pooler keeps from earlier rounds have theirs mapped already.
# That cost, PostgreSQL's and the same for every target that starts new
# backends, is not the proxy's; huge pages take most of it away.
huge_pages_setting() {
	local need free setting=off
	HUGE_PAGES_NOTE=
	[[ ${HUGE_PAGES:-on} == @(on|off) ]] || die "HUGE_PAGES must be on or off, not '$HUGE_PAGES'"
	if [[ ${HUGE_PAGES:-on} == off ]]; then
		HUGE_PAGES_NOTE="HUGE_PAGES=off"
	elif ! need=$(as_pg "$PGBIN/postgres" -D "$WORK/data" -C shared_memory_size_in_huge_pages 2>/dev/null) ||
		[[ ! $need =~ ^[1-9][0-9]*$ ]]; then
		HUGE_PAGES_NOTE="this PostgreSQL or kernel reports no huge page size"
	else
		free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
		if ((free < need)) && $IS_ROOT && [[ -w /proc/sys/vm/nr_hugepages ]]; then
			HUGE_PAGES_RESTORE=$(</proc/sys/vm/nr_hugepages)
			echo $((HUGE_PAGES_RESTORE + need - free)) 2>/dev/null >/proc/sys/vm/nr_hugepages || true
			free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
		fi
		if ((free >= need)); then
			setting=on
		else
			HUGE_PAGES_NOTE="$need huge pages needed, $free free; as root this script reserves them"
		fi
	fi
	PG_SETTINGS+=("huge_pages = $setting")
	echo "huge_pages = $setting" | as_pg tee -a "$WORK/data/postgresql.conf" >/dev/null
}

# spawn VAR LOG CMD...: start CMD in the background (CMD itself, not a
# subshell, so that VAR is the pid whose CPU can be measured) with its output
# in LOG; set VAR to its pid and add it to PIDS, for cleanup to stop.
spawn() {
	local var=$1 log=$2
	shift 2
	"$@" >"$log" 2>&1 &
	PIDS+=("$!")
	printf -v "$var" '%s' "$!"
}

# start_relay VAR PORT UPSTREAM_PORT: build bench/relay into WORK and start it
# on 127.0.0.1:PORT relaying to 127.0.0.1:UPSTREAM_PORT, logging to
# $WORK/relay.log; VAR as for spawn. Run from $REPO.
start_relay() {
	echo "== bare relay (bench/relay), port $2"
	go build -o "$WORK/relay" ./bench/relay || die "could not build bench/relay"
	spawn "$1" "$WORK/relay.log" "$WORK/relay" -listen "127.0.0.1:$2" -upstream "127.0.0.1:$3"
}

# wait_ready NAME PORT PID LOG: wait until a PostgreSQL connection through PORT
# gets an answer, failing early if PID has died.
wait_ready() {
	local i
	for ((i = 0; i < 150; i++)); do
		"$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$2" -U postgres -d postgres -t 1 && return 0
		alive "$3" || die "$1 exited during startup; the end of its log:$(echo; tail -20 "$4")"
		sleep 0.1
	done
	die "$1 did not answer on port $2 within 15 s; the end of its log:$(echo; tail -20 "$4")"
}

# ---------------------------------------------------------------- measure

# rotate N ITEM...: the ITEMs rotated left by N places, one a line: the
# order of the targets in round N, so that drift is spread over all of them.
# Use: mapfile -t order < <(rotate "$round_no" "${TARGETS[@]}")
rotate() {
	local n=$1 i
	shift
	local items=("$@")
	for ((i = 0; i < ${#items[@]}; i++)); do
		printf '%s\n' "${items[(i + n) % ${#items[@]}]}"
	done
}

# cpu_ticks PID: user+system clock ticks the process has used so far.
cpu_ticks() {
	local stat fields
	stat=$(<"/proc/$1/stat")
	read -r -a fields <<<"${stat##*) }" # fields[0] is field 3 (state)
	echo $((fields[11] + fields[12]))   # fields 14 utime, 15 stime
}

# child_cpu_ticks PID: user+system clock ticks of PID's children that have
# exited and been waited for (for the postmaster: the backends that ended).
child_cpu_ticks() {
	local stat fields
	stat=$(<"/proc/$1/stat")
	read -r -a fields <<<"${stat##*) }"
	echo $((fields[13] + fields[14])) # fields 16 cutime, 17 cstime
}

# postmaster_children: the pids of our postmaster's children, one a line.
postmaster_children() {
	local child stat ppid kids
	if [[ -r /proc/$POSTMASTER/task/$POSTMASTER/children ]]; then
		read -r -a kids <"/proc/$POSTMASTER/task/$POSTMASTER/children" || true
		printf '%s\n' "${kids[@]}"
		return 0
	fi
	for child in /proc/[0-9]*/stat; do
		stat=$(cat "$child" 2>/dev/null) || continue
		stat=${stat##*) }
		read -r _ ppid _ <<<"$stat"
		[[ $ppid == "$POSTMASTER" ]] && echo "${child//[^0-9]/}"
	done
}

# client_backends: how many children of our postmaster serve a TCP client,
# or have ended but not been reaped yet (their CPU is not in the postmaster's
# cutime+cstime until it has waited for them).
client_backends() {
	local n=0 child cmd state
	for child in $(postmaster_children); do
		state=$(cat "/proc/$child/stat" 2>/dev/null) || continue
		state=${state##*) }
		[[ ${state%% *} == Z ]] && { n=$((n + 1)); continue; }
		cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$child/cmdline") || continue
		[[ $cmd == *" 127.0.0.1("* ]] && n=$((n + 1))
	done
	echo "$n"
}

# settle [KEEP]: wait (up to 10 s) until at most KEEP (default 0) client
# backends are left (KEEP: those a pooler holds on to), so that the CPU of
# the backends that served a run has been added to the postmaster's
# cutime+cstime, and nothing else's is about to be.
settle() {
	local i keep=${1:-0}
	for ((i = 0; i < 100; i++)); do
		(($(client_backends) <= keep)) && return 0
		sleep 0.1
	done
	echo "$BENCH_NAME: warning: client backends still running after 10 s; PostgreSQL CPU figures may be off" >&2
}

# cluster_cpu_ticks: user+system clock ticks of our cluster's backends and
# other children: those that have ended (the postmaster's cutime+cstime)
# plus those still running (a pooler's server connections). Read it only
# after settle, when no backend is about to end.
cluster_cpu_ticks() {
	local total child
	total=$(child_cpu_ticks "$POSTMASTER")
	for child in $(postmaster_children); do
		total=$((total + $(cpu_ticks "$child" 2>/dev/null || echo 0)))
	done
	echo "$total"
}

# ticks_us_per TICKS N: TICKS clock ticks as microseconds per one of N.
ticks_us_per() {
	awk -v t="$1" -v hz="$CLK_TCK" -v n="$2" 'BEGIN {printf "%.2f", t * 1e6 / hz / n}'
}

# parse_pgbench LOG: print "TPS LATENCY_MS TRANSACTIONS" from a pgbench log,
# or die showing it. Use: res=$(parse_pgbench "$log"); read -r tps lat tx <<<"$res"
parse_pgbench() {
	local tps lat tx
	tps=$(awk '/^tps = .*(without initial connection time|excluding connections establishing)/ {print $3}' "$1")
	lat=$(awk '/^latency average = / {print $4}' "$1")
	tx=$(awk -F': ' '/^number of transactions actually processed:/ {split($2, a, "/"); print a[1]}' "$1")
	[[ -n $tps && -n $lat && -n $tx ]] || die "could not parse pgbench output:$(echo; cat "$1")"
	echo "$tps $lat $tx"
}

# ---------------------------------------------------------------- report

# median VALUES...: the median, or "-" if the values are "-".
median() {
	[[ $1 == - ]] && { echo -; return; }
	printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {
		if (NR % 2) print v[(NR + 1) / 2]; else printf "%.10g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B: A/B to three decimals, or "-" if either is "-".
ratio() {
	if [[ $1 == - || $2 == - ]]; then echo -; else awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; fi
}

# paired_ratio "A VALUES" "B VALUES": the median over the rounds of A/B,
# each round's A against the same round's B, to three decimals, or "-" if
# either is "-". Rounds interleave the targets, so a drift of the machine's
# speed (other load, CPU clocks) that the medians of each target keep
# cancels out within a round.
paired_ratio() {
	local -a a b r=()
	read -r -a a <<<"$1"
	read -r -a b <<<"$2"
	[[ ${a[0]} == - || ${b[0]} == - ]] && { echo -; return; }
	local i
	for i in "${!a[@]}"; do
		r+=("$(awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN {printf "%.10g", x / y}')")
	done
	printf '%.3f' "$(median "${r[@]}")"
}

# write_summary KEY=VALUE...: if BENCH_OUT is set, write the lines to it,
# and the cluster's settings (PG_SETTINGS) as settings=, ";" between them.
write_summary() {
	[[ -n ${BENCH_OUT:-} ]] || return 0
	printf '%s\n' "$@" "settings=$(IFS=';'; echo "${PG_SETTINGS[*]}")" >"$BENCH_OUT"
	echo
	echo "== summary written to $BENCH_OUT"
}
