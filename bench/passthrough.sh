#!/usr/bin/env bash
# passthrough.sh: what does putting softfk in front of PostgreSQL cost?
#
# Measures read-only pgbench throughput (pgbench -S: one primary-key SELECT
# per transaction, the workload where per-message proxy overhead shows most)
# against five targets, all on this machine over 127.0.0.1 TCP:
#
#   direct     PostgreSQL itself, no proxy
#   pgbouncer  PgBouncer in session pool mode (a mature C proxy, for
#              reference); it keeps its server connections from one round
#              to the next, so its rounds run on PostgreSQL backends that
#              earlier rounds have warmed up
#   pgbouncer_fresh  the same PgBouncer, told to close its server
#              connections (RECONNECT on its admin console) before the
#              round, so that, as for every other target, each round's
#              pgbench connections get new backends
#   relay      bench/relay, a bare Go byte relay: the least any proxy can cost
#   softfk     softfk serve in pure pass-through mode (no config file)
#
# softfk, like the relay and pgbench itself, opens one upstream connection
# per client connection and keeps none when the client leaves (it relays
# authentication and never pools), so every round starts new backends. A new
# backend costs PostgreSQL more CPU per transaction until it has warmed up
# (its first touch of each page of shared memory, its caches): pgbouncer
# against pgbouncer_fresh shows how much of PgBouncer's lead over the others
# that is. With 4 KiB pages most of it is page faults, which huge pages take
# away: the cluster uses them whenever it can (see HUGE_PAGES below).
#
# It starts its own throwaway cluster (initdb in a mktemp -d directory, trust
# auth, shared_buffers=128MB, huge_pages=on when possible, fsync=off,
# synchronous_commit=off: settings for a benchmark, never for data you
# keep), loads it with pgbench -i -s 10, and
# then for -M prepared and -M simple runs ROUNDS interleaved rounds over the
# five targets, rotating their order each round so that drift (caches, other
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
#   pg CPU us/tx   the same for PostgreSQL's backends: those that ended
#                  (the postmaster's cutime+cstime, counted once they have
#                  exited) plus those PgBouncer keeps (their own counters).
#   A/B ratios     TPS ratio below 1 means A is slower than B (0.80 = A
#                  delivers 80% of B's throughput); latency and CPU ratios
#                  above 1 mean A costs more. "TPS paired" is the median of
#                  the rounds' own ratios (A and B measured within the same
#                  round), which a machine whose speed drifts from one
#                  round to the next disturbs less than the ratio of
#                  medians.
#     softfk/direct     the whole price of putting softfk in the path
#     softfk/pgbouncer  softfk against a mature pooler doing a similar job
#     softfk/pgbouncer_fresh  the same, both starting new backends each round
#     pgbouncer/pgbouncer_fresh  what keeping warm backends between rounds
#                       is worth to PgBouncer in this benchmark
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
#   HUGE_PAGES=on the cluster's shared memory in huge pages when the kernel
#                 has enough free (as root the script reserves what is
#                 missing in vm.nr_hugepages and sets it back on exit);
#                 off: 4 KiB pages, as the runs before 2026-12-06 (tenth
#                 session) had
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

BENCH_NAME=passthrough
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091 # (followed with shellcheck -x)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_args "$@"
check_uint ROUNDS DURATION CLIENTS THREADS SCALE
check_seconds WARMUP

cd "$REPO"

TARGETS=(direct pgbouncer pgbouncer_fresh relay softfk)
MODES=(prepared simple)
RATIOS=(softfk/direct softfk/pgbouncer softfk/pgbouncer_fresh softfk/relay relay/direct pgbouncer/direct pgbouncer/pgbouncer_fresh)

# ---------------------------------------------------------------- start

bench_find_tools postgresql pgbouncer
bench_workdir

declare -A PORT PID
for target in direct pgbouncer relay softfk; do
	free_port "PORT[$target]"
done
PORT[pgbouncer_fresh]=${PORT[pgbouncer]}

pg_settings "${PORT[direct]}"
start_cluster

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
admin_users = postgres
$($IS_ROOT && echo "user = postgres")
EOF
spawn "PID[pgbouncer]" "$WORK/pgbouncer.log" "$PGBOUNCER" "$WORK/pgbouncer.ini"
PID[pgbouncer_fresh]=${PID[pgbouncer]}

start_relay "PID[relay]" "${PORT[relay]}" "${PORT[direct]}"

if [[ -n $SOFTFK_CMD ]]; then
	read -r -a softfk_cmd <<<"$SOFTFK_CMD"
else
	go build -o bin/softfk ./cmd/softfk ||
		die "could not build softfk (go build -o bin/softfk ./cmd/softfk); SOFTFK_CMD can name another proxy to measure"
	softfk_cmd=("$REPO/bin/softfk" serve --log-format json)
fi
echo "== softfk: ${softfk_cmd[*]}, port ${PORT[softfk]}"
spawn "PID[softfk]" "$WORK/softfk.log" \
	"${softfk_cmd[@]}" --listen "127.0.0.1:${PORT[softfk]}" --upstream "127.0.0.1:${PORT[direct]}"

wait_ready pgbouncer "${PORT[pgbouncer]}" "${PID[pgbouncer]}" "$WORK/pgbouncer.log"
wait_ready relay "${PORT[relay]}" "${PID[relay]}" "$WORK/relay.log"
wait_ready softfk "${PORT[softfk]}" "${PID[softfk]}" "$WORK/softfk.log"

# ---------------------------------------------------------------- measure

echo "== pgbench -i -s $SCALE"
"$PGBENCH" "${PGBENCH_CONN[@]}" -p "${PORT[direct]}" -i -q -s "$SCALE" postgres >"$WORK/init.log" 2>&1 ||
	die "pgbench -i failed:$(echo; tail -20 "$WORK/init.log")"
if ((WARMUP > 0)); then
	echo "== warm-up: ${WARMUP} s of pgbench -S direct (not measured)"
	"$PGBENCH" "${PGBENCH_CONN[@]}" -p "${PORT[direct]}" -n -S -c "$CLIENTS" -j "$THREADS" -T "$WARMUP" postgres >"$WORK/warmup.log" 2>&1 ||
		die "warm-up pgbench failed:$(echo; tail -20 "$WORK/warmup.log")"
fi

# pgbouncer_reconnect: have PgBouncer close all its server connections, and
# set POOLED, how many backends PgBouncer keeps between rounds, to 0 (each
# round settles before it measures, so their backends have ended by then).
pgbouncer_reconnect() {
	local out
	out=$("$PSQL" -X -q -h 127.0.0.1 -p "${PORT[pgbouncer]}" -U postgres -d pgbouncer -c RECONNECT 2>&1) ||
		die "RECONNECT on PgBouncer's admin console failed: $out"
	POOLED=0
}

# No backend that PgBouncer keeps from pg_isready's or the warm-up's
# connections: from here on POOLED counts them.
pgbouncer_reconnect

# Results per "mode.target", one value per round, space separated.
declare -A TPS LAT CPU GCPU
echo "== $ROUNDS round(s) per mode: pgbench -n -S -c $CLIENTS -j $THREADS -T $DURATION, $(nproc) CPU(s) shared by everything"
round_no=0
for mode in "${MODES[@]}"; do
	for ((r = 0; r < ROUNDS; r++)); do
		mapfile -t order < <(rotate "$round_no" "${TARGETS[@]}")
		round_no=$((round_no + 1))
		for target in "${order[@]}"; do
			log=$WORK/$mode-$r-$target.log
			[[ $target == pgbouncer_fresh ]] && pgbouncer_reconnect
			settle "$POOLED"
			pg_before=$(cluster_cpu_ticks)
			before=0
			[[ $target != direct ]] && before=$(cpu_ticks "${PID[$target]}")
			"$PGBENCH" "${PGBENCH_CONN[@]}" -p "${PORT[$target]}" -n -S -M "$mode" \
				-c "$CLIENTS" -j "$THREADS" -T "$DURATION" postgres >"$log" 2>&1 ||
				die "pgbench against $target failed:$(echo; tail -20 "$log")"
			after=0
			[[ $target != direct ]] && after=$(cpu_ticks "${PID[$target]}")
			[[ $target == pgbouncer* ]] && POOLED=$CLIENTS
			settle "$POOLED"
			pg_after=$(cluster_cpu_ticks)
			res=$(parse_pgbench "$log")
			read -r tps lat tx <<<"$res"
			((tx > 0)) || die "pgbench against $target completed no transactions:$(echo; cat "$log")"
			cpu=-
			[[ $target != direct ]] && cpu=$(ticks_us_per $((after - before)) "$tx")
			gcpu=$(ticks_us_per $((pg_after - pg_before)) "$tx")
			TPS[$mode.$target]+="$tps "
			LAT[$mode.$target]+="$lat "
			CPU[$mode.$target]+="$cpu "
			GCPU[$mode.$target]+="$gcpu "
			printf '   %-8s round %d  %-15s  tps %10.1f  latency %7.3f ms  proxy CPU %s us/tx  pg CPU %s us/tx\n' \
				"$mode" $((r + 1)) "$target" "$tps" "$lat" "$cpu" "$gcpu"
		done
	done
done

# ---------------------------------------------------------------- report

summary=(
	"rounds=$ROUNDS" "duration_s=$DURATION" "clients=$CLIENTS" "threads=$THREADS" "scale=$SCALE"
	"cpus=$(nproc)" "postgres=$("$PGBIN/postgres" --version | awk '{print $3}')"
	"pgbouncer=$("$PGBOUNCER" --version | awk 'NR == 1 {print $NF}')" "softfk_cmd=${softfk_cmd[*]}"
)
declare -A MED_TPS MED_LAT MED_CPU MED_GCPU
for mode in "${MODES[@]}"; do
	echo
	echo "== -M $mode: median of $ROUNDS round(s) x $DURATION s, $CLIENTS clients, $THREADS threads"
	printf '%-26s %12s %12s %16s %14s\n' target TPS "latency ms" "proxy CPU us/tx" "pg CPU us/tx"
	for target in "${TARGETS[@]}"; do
		k=$mode.$target
		# shellcheck disable=SC2086 # word splitting of the per-round lists is intended
		{
			MED_TPS[$k]=$(median ${TPS[$k]})
			MED_LAT[$k]=$(median ${LAT[$k]})
			MED_CPU[$k]=$(median ${CPU[$k]})
			MED_GCPU[$k]=$(median ${GCPU[$k]})
		}
		printf '%-26s %12.1f %12.3f %16s %14s\n' "$target" "${MED_TPS[$k]}" "${MED_LAT[$k]}" "${MED_CPU[$k]}" "${MED_GCPU[$k]}"
		summary+=(
			"$k.tps=${MED_TPS[$k]}" "$k.latency_ms=${MED_LAT[$k]}" "$k.cpu_us_per_tx=${MED_CPU[$k]}"
			"$k.pg_cpu_us_per_tx=${MED_GCPU[$k]}"
			"$k.tps_rounds=${TPS[$k]% }" "$k.cpu_us_per_tx_rounds=${CPU[$k]% }"
		)
	done
	echo
	printf '%-26s %12s %12s %12s %16s\n' ratio TPS "TPS paired" latency "CPU/tx"
	for pair in "${RATIOS[@]}"; do
		a=$mode.${pair%/*} b=$mode.${pair#*/}
		rt=$(ratio "${MED_TPS[$a]}" "${MED_TPS[$b]}")
		rp=$(paired_ratio "${TPS[$a]}" "${TPS[$b]}")
		rl=$(ratio "${MED_LAT[$a]}" "${MED_LAT[$b]}")
		rc=$(ratio "${MED_CPU[$a]}" "${MED_CPU[$b]}")
		printf '%-26s %12s %12s %12s %16s\n' "$pair" "$rt" "$rp" "$rl" "$rc"
		key=$mode.${pair/\//_over_}
		summary+=("$key.tps=$rt" "$key.tps_paired=$rp" "$key.latency=$rl" "$key.cpu=$rc")
	done
done

write_summary "${summary[@]}"
