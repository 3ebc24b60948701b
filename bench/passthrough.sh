#!/usr/bin/env bash
# passthrough.sh: what does putting softfk in front of PostgreSQL cost?
#
# Measures read-only pgbench throughput (pgbench -S: one primary-key SELECT
# per transaction, the workload where per-message proxy overhead shows most)
# against four targets, all on this machine over 127.0.0.1 TCP:
#
#   direct     PostgreSQL itself, no proxy
#   pgbouncer  PgBouncer in session pool mode (a mature C proxy, for reference)
#   relay      bench/relay, a bare Go byte relay: the least any proxy can cost
#   softfk     softfk serve in pure pass-through mode (no config file)
#
# It starts its own throwaway cluster (initdb in a mktemp -d directory, trust
# auth, shared_buffers=128MB, fsync=off, synchronous_commit=off: settings for
# a benchmark, never for data you keep), loads it with pgbench -i -s 10, and
# then for -M prepared and -M simple runs ROUNDS interleaved rounds over the
# four targets, rotating their order each round so that drift (caches, other
# load, CPU clocks) is spread over all of them. Everything it started is
# stopped, by pid, and the temp directory removed on exit, Ctrl-C included.
#
# Reading the results (medians over the rounds):
#   TPS, latency   as pgbench reports them (latency is the average per
#                  transaction, in ms; initial connection time excluded).
#   CPU us/tx      user+system CPU the proxy process itself used during the
#                  round, from /proc/PID/stat, divided by the transactions
#                  pgbench completed: microseconds of proxy CPU per
#                  transaction. It is the most machine-independent figure:
#                  the proxy's own cost, whatever the cores are doing.
#   A/B ratios     TPS ratio below 1 means A is slower than B (0.80 = A
#                  delivers 80% of B's throughput); latency and CPU ratios
#                  above 1 mean A costs more.
#     softfk/direct     the whole price of putting softfk in the path
#     softfk/pgbouncer  softfk against a mature pooler doing a similar job
#     softfk/relay      what softfk's protocol handling costs beyond moving
#                       bytes; near 1 means softfk adds almost nothing
#     relay/direct      the unavoidable cost of one extra TCP hop
#     pgbouncer/direct  the same for PgBouncer
# On a small machine (2 cores) pgbench, PostgreSQL and the proxy all compete
# for the same CPUs, so every CPU microsecond a proxy spends is taken from
# PostgreSQL and pgbench: TPS ratios there are lower than on a big server,
# and the CPU per transaction is the figure to compare across machines.
#
# Usage: bench/passthrough.sh [--rounds N] [--duration S] [--clients N]
#                             [--threads N]      (works from any directory)
# Environment (flags win):
#   ROUNDS=3 DURATION=10 CLIENTS=8 THREADS=2   as the flags
#   SCALE=10      pgbench -i scale factor
#   WARMUP=5      seconds of unmeasured direct pgbench -S before the rounds
#   BENCH_OUT     if set, also write a key=value summary to this file
#   SOFTFK_CMD    command that starts the proxy measured as "softfk"; it gets
#                 "--listen ADDR --upstream ADDR" appended and must exec the
#                 proxy itself (its pid is the one whose CPU is measured, so
#                 not "go run"). Default: bin/softfk serve --log-format json,
#                 built here with go build -o bin/softfk ./cmd/softfk.
#                 E.g. to try the script against the bare relay:
#                   go build -o /tmp/relay ./bench/relay
#                   SOFTFK_CMD=/tmp/relay bench/passthrough.sh
#
# Needs: PostgreSQL server binaries and pgbench, pgbouncer, go, Linux /proc.
# Run as root, it installs missing PostgreSQL/PgBouncer with apt-get (note
# that Debian's postgresql package also creates and starts its own "main"
# cluster on a normal machine) and runs initdb, postgres and pgbouncer as
# user postgres, since they refuse to run as root.
set -euo pipefail
export LC_ALL=C # pgbench, awk and printf all use "." decimals

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-8}
THREADS=${THREADS:-2}
SCALE=${SCALE:-10}
WARMUP=${WARMUP:-5}
BENCH_OUT=${BENCH_OUT:-}
SOFTFK_CMD=${SOFTFK_CMD:-}

TARGETS=(direct pgbouncer relay softfk)
MODES=(prepared simple)
RATIOS=(softfk/direct softfk/pgbouncer softfk/relay relay/direct pgbouncer/direct)

die() {
	echo "passthrough: $*" >&2
	exit 1
}

usage() {
	# The header comment above, without its leading "# ".
	sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"
}

while (($#)); do
	case $1 in
	-r | --rounds) ROUNDS=${2:?$1 needs a value}; shift 2 ;;
	-d | --duration) DURATION=${2:?$1 needs a value}; shift 2 ;;
	-c | --clients) CLIENTS=${2:?$1 needs a value}; shift 2 ;;
	-j | --threads) THREADS=${2:?$1 needs a value}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
done
for var in ROUNDS DURATION CLIENTS THREADS SCALE; do
	[[ ${!var} =~ ^[1-9][0-9]*$ ]] || die "$var must be a positive integer, not '${!var}'"
done
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be a whole number of seconds, not '$WARMUP'"

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD

# ---------------------------------------------------------------- tools

IS_ROOT=false
[[ $EUID -eq 0 ]] && IS_ROOT=true

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

missing=()
find_pg_bindir >/dev/null || missing+=(postgresql)
find_pgbouncer >/dev/null || missing+=(pgbouncer)
if ((${#missing[@]})); then
	$IS_ROOT || die "missing ${missing[*]}; install with: sudo apt-get install -y ${missing[*]}"
	echo "== installing ${missing[*]} with apt-get"
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi
PGBIN=$(find_pg_bindir) || die "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found"
PGBOUNCER=$(find_pgbouncer) || die "pgbouncer not found"
if [[ -x $PGBIN/pgbench ]]; then
	PGBENCH=$PGBIN/pgbench
else
	PGBENCH=$(command -v pgbench) || die "pgbench not found (Debian: postgresql-client)"
fi
command -v go >/dev/null || die "go not found (needed to build the relay and softfk)"
if $IS_ROOT; then
	id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' user to run initdb, postgres and pgbouncer"
	command -v runuser >/dev/null || die "running as root needs runuser (util-linux)"
fi
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- lifecycle

WORK=$(mktemp -d -t softfk-bench.XXXXXX)
$IS_ROOT && chown postgres: "$WORK"
PIDS=()     # processes this script started, stopped in reverse order
POSTMASTER= # pid of our cluster's postmaster (started by pg_ctl, not a child)

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
		echo "passthrough: pid $pid ignored SIG$sig, killing it" >&2
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
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# as_pg CMD...: run CMD in $WORK as the cluster's owner (postgres if root).
as_pg() {
	if $IS_ROOT; then
		(cd "$WORK" && runuser -u postgres -- "$@")
	else
		(cd "$WORK" && "$@")
	fi
}

USED_PORTS=" "
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

# ---------------------------------------------------------------- start

declare -A PORT PID
for target in "${TARGETS[@]}"; do
	free_port "PORT[$target]"
done

PG_SETTINGS=(
	"listen_addresses = '127.0.0.1'"
	"port = ${PORT[direct]}"
	"unix_socket_directories = '$WORK'"
	"max_connections = $((CLIENTS + 20 > 100 ? CLIENTS + 20 : 100))"
	"shared_buffers = 128MB"
	"fsync = off"
	"synchronous_commit = off"
)
echo "== PostgreSQL: $("$PGBIN/postgres" --version) from $PGBIN"
echo "   throwaway cluster in $WORK, trust auth, settings:"
printf '     %s\n' "${PG_SETTINGS[@]}"
as_pg "$PGBIN/initdb" -D "$WORK/data" -U postgres --auth=trust -E UTF8 --no-sync >"$WORK/initdb.log" 2>&1 ||
	die "initdb failed:$(echo; tail -20 "$WORK/initdb.log")"
printf '%s\n' "${PG_SETTINGS[@]}" | as_pg tee -a "$WORK/data/postgresql.conf" >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/postgres.log" -w -t 60 start >/dev/null ||
	die "PostgreSQL did not start:$(echo; tail -20 "$WORK/postgres.log")"
POSTMASTER=$(head -1 "$WORK/data/postmaster.pid")

echo "== $("$PGBOUNCER" --version | head -1), session pool mode, port ${PORT[pgbouncer]}"
echo '"postgres" ""' >"$WORK/userlist.txt"
cat >"$WORK/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=${PORT[direct]}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${PORT[pgbouncer]}
unix_socket_dir =
auth_type = trust
auth_file = $WORK/userlist.txt
pool_mode = session
default_pool_size = $CLIENTS
max_client_conn = $((CLIENTS + 10))
log_connections = 0
log_disconnections = 0
$($IS_ROOT && echo "user = postgres")
EOF
"$PGBOUNCER" "$WORK/pgbouncer.ini" >"$WORK/pgbouncer.log" 2>&1 &
PID[pgbouncer]=$!
PIDS+=("$!")

echo "== bare relay (bench/relay), port ${PORT[relay]}"
go build -o "$WORK/relay" ./bench/relay || die "could not build bench/relay"
"$WORK/relay" -listen "127.0.0.1:${PORT[relay]}" -upstream "127.0.0.1:${PORT[direct]}" >"$WORK/relay.log" 2>&1 &
PID[relay]=$!
PIDS+=("$!")

if [[ -n $SOFTFK_CMD ]]; then
	read -r -a softfk_cmd <<<"$SOFTFK_CMD"
else
	go build -o bin/softfk ./cmd/softfk ||
		die "could not build softfk (go build -o bin/softfk ./cmd/softfk); SOFTFK_CMD can name another proxy to measure"
	softfk_cmd=("$REPO/bin/softfk" serve --log-format json)
fi
echo "== softfk: ${softfk_cmd[*]}, port ${PORT[softfk]}"
"${softfk_cmd[@]}" --listen "127.0.0.1:${PORT[softfk]}" --upstream "127.0.0.1:${PORT[direct]}" >"$WORK/softfk.log" 2>&1 &
PID[softfk]=$!
PIDS+=("$!")

wait_ready pgbouncer "${PORT[pgbouncer]}" "${PID[pgbouncer]}" "$WORK/pgbouncer.log"
wait_ready relay "${PORT[relay]}" "${PID[relay]}" "$WORK/relay.log"
wait_ready softfk "${PORT[softfk]}" "${PID[softfk]}" "$WORK/softfk.log"

# ---------------------------------------------------------------- measure

PGBENCH_CONN=(-h 127.0.0.1 -U postgres)

echo "== pgbench -i -s $SCALE"
"$PGBENCH" "${PGBENCH_CONN[@]}" -p "${PORT[direct]}" -i -q -s "$SCALE" postgres >"$WORK/init.log" 2>&1 ||
	die "pgbench -i failed:$(echo; tail -20 "$WORK/init.log")"
if ((WARMUP > 0)); then
	echo "== warm-up: ${WARMUP} s of pgbench -S direct (not measured)"
	"$PGBENCH" "${PGBENCH_CONN[@]}" -p "${PORT[direct]}" -n -S -c "$CLIENTS" -j "$THREADS" -T "$WARMUP" postgres >"$WORK/warmup.log" 2>&1 ||
		die "warm-up pgbench failed:$(echo; tail -20 "$WORK/warmup.log")"
fi

# cpu_ticks PID: user+system clock ticks the process has used so far.
cpu_ticks() {
	local stat fields
	stat=$(<"/proc/$1/stat")
	read -r -a fields <<<"${stat##*) }" # fields[0] is field 3 (state)
	echo $((fields[11] + fields[12]))   # fields 14 utime, 15 stime
}

# Results per "mode.target", one value per round, space separated.
declare -A TPS LAT CPU
echo "== $ROUNDS round(s) per mode: pgbench -n -S -c $CLIENTS -j $THREADS -T $DURATION, $(nproc) CPU(s) shared by everything"
round_no=0
for mode in "${MODES[@]}"; do
	for ((r = 0; r < ROUNDS; r++)); do
		order=()
		for ((i = 0; i < ${#TARGETS[@]}; i++)); do
			order+=("${TARGETS[(i + round_no) % ${#TARGETS[@]}]}")
		done
		round_no=$((round_no + 1))
		for target in "${order[@]}"; do
			log=$WORK/$mode-$r-$target.log
			before=0
			[[ $target != direct ]] && before=$(cpu_ticks "${PID[$target]}")
			"$PGBENCH" "${PGBENCH_CONN[@]}" -p "${PORT[$target]}" -n -S -M "$mode" \
				-c "$CLIENTS" -j "$THREADS" -T "$DURATION" postgres >"$log" 2>&1 ||
				die "pgbench against $target failed:$(echo; tail -20 "$log")"
			after=0
			[[ $target != direct ]] && after=$(cpu_ticks "${PID[$target]}")
			tps=$(awk '/^tps = .*(without initial connection time|excluding connections establishing)/ {print $3}' "$log")
			lat=$(awk '/^latency average = / {print $4}' "$log")
			tx=$(awk -F': ' '/^number of transactions actually processed:/ {split($2, a, "/"); print a[1]}' "$log")
			[[ -n $tps && -n $lat && -n $tx ]] || die "could not parse pgbench output:$(echo; cat "$log")"
			((tx > 0)) || die "pgbench against $target completed no transactions:$(echo; cat "$log")"
			cpu=-
			[[ $target != direct ]] && cpu=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$tx" 'BEGIN {printf "%.2f", t * 1e6 / hz / n}')
			TPS[$mode.$target]+="$tps "
			LAT[$mode.$target]+="$lat "
			CPU[$mode.$target]+="$cpu "
			printf '   %-8s round %d  %-9s  tps %10.1f  latency %7.3f ms  proxy CPU %s us/tx\n' \
				"$mode" $((r + 1)) "$target" "$tps" "$lat" "$cpu"
		done
	done
done

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

summary=(
	"rounds=$ROUNDS" "duration_s=$DURATION" "clients=$CLIENTS" "threads=$THREADS" "scale=$SCALE"
	"cpus=$(nproc)" "postgres=$("$PGBIN/postgres" --version | awk '{print $3}')"
	"pgbouncer=$("$PGBOUNCER" --version | awk 'NR == 1 {print $NF}')" "softfk_cmd=${softfk_cmd[*]}"
)
declare -A MED_TPS MED_LAT MED_CPU
for mode in "${MODES[@]}"; do
	echo
	echo "== -M $mode: median of $ROUNDS round(s) x $DURATION s, $CLIENTS clients, $THREADS threads"
	printf '%-18s %12s %12s %16s\n' target TPS "latency ms" "proxy CPU us/tx"
	for target in "${TARGETS[@]}"; do
		k=$mode.$target
		# shellcheck disable=SC2086 # word splitting of the per-round lists is intended
		{
			MED_TPS[$k]=$(median ${TPS[$k]})
			MED_LAT[$k]=$(median ${LAT[$k]})
			MED_CPU[$k]=$(median ${CPU[$k]})
		}
		printf '%-18s %12.1f %12.3f %16s\n' "$target" "${MED_TPS[$k]}" "${MED_LAT[$k]}" "${MED_CPU[$k]}"
		summary+=(
			"$k.tps=${MED_TPS[$k]}" "$k.latency_ms=${MED_LAT[$k]}" "$k.cpu_us_per_tx=${MED_CPU[$k]}"
			"$k.tps_rounds=${TPS[$k]% }" "$k.cpu_us_per_tx_rounds=${CPU[$k]% }"
		)
	done
	echo
	printf '%-18s %12s %12s %16s\n' ratio TPS latency "CPU/tx"
	for pair in "${RATIOS[@]}"; do
		a=$mode.${pair%/*} b=$mode.${pair#*/}
		rt=$(ratio "${MED_TPS[$a]}" "${MED_TPS[$b]}")
		rl=$(ratio "${MED_LAT[$a]}" "${MED_LAT[$b]}")
		rc=$(ratio "${MED_CPU[$a]}" "${MED_CPU[$b]}")
		printf '%-18s %12s %12s %16s\n' "$pair" "$rt" "$rl" "$rc"
		key=$mode.${pair/\//_over_}
		summary+=("$key.tps=$rt" "$key.latency=$rl" "$key.cpu=$rc")
	done
done

if [[ -n $BENCH_OUT ]]; then
	printf '%s\n' "${summary[@]}" >"$BENCH_OUT"
	echo
	echo "== summary written to $BENCH_OUT"
fi
