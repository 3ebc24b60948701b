#!/usr/bin/env bash
# fk.sh: what does enforcing a foreign key cost, as a real FOREIGN KEY in
# PostgreSQL and as a soft foreign key in softfk?
#
# Measures INSERT throughput with pgbench custom scripts on two tables,
#   users  (id bigint primary key, name text)          USERS rows (100000)
#   orders (id bigserial primary key, user_id bigint not null, amount int)
#          with an index on orders(user_id),
# for four setups, all on one throwaway cluster over 127.0.0.1 TCP:
#
#   fk      (a) database fk: orders.user_id REFERENCES users(id), a real
#               FOREIGN KEY (a per-row RI trigger), pgbench direct
#   nofk    (b) database nofk: the same tables without the constraint,
#               pgbench direct; checks nothing, the ceiling
#   softfk  (c) database nofk through softfk serve, whose YAML declares the
#               soft FK orders(user_id) -> users(id) for database nofk only
#   relay   (d) database nofk through bench/relay, a bare Go byte relay:
#               what any proxy costs before it checks anything
#
# and two workloads, one pgbench script each, every user id random(1, USERS)
# and so always valid (no transaction fails):
#
#   single  one row per transaction:
#             INSERT INTO orders (user_id, amount) VALUES (:uid, 1);
#   batch   BATCH (100) rows per transaction in one statement:
#             INSERT INTO orders (user_id, amount) VALUES (:u1, 1), (:u2, 1), ...
#           each row with its own random user id: a real FK fires its
#           trigger once per row, softfk can check the statement's keys in
#           one query.
#
# Before measuring, it checks once that softfk really enforces: through
# softfk, INSERT ... VALUES (0, 1) (there is no user 0) must fail with
# SQLSTATE 23503, also in a multi-row INSERT and with the extended protocol,
# and a valid INSERT must succeed; it stops with a message otherwise.
#
# Settings as bench/passthrough.sh: a throwaway cluster (initdb in a mktemp -d
# directory, trust auth, shared_buffers=128MB, huge_pages=on when possible,
# fsync=off, synchronous_commit=off: settings for a benchmark, never for data you keep);
# autovacuum is off for orders only. For -M prepared and -M simple and each
# workload it runs ROUNDS interleaved rounds over the four setups, rotating
# their order each round so that drift is spread over all of them. Before
# every pgbench run (outside the measured time) the run's orders table is
# emptied (TRUNCATE ... RESTART IDENTITY, VACUUM ANALYZE, CHECKPOINT), so
# that table and index growth do not favour whoever runs first; after it,
# the rows in orders must match the transactions pgbench reported.
# Everything it started is stopped, by pid, and the temp directory removed
# on exit, Ctrl-C included.
#
# Reading the results (medians over the rounds):
#   TPS, latency   as pgbench reports them (latency: average per
#                  transaction, in ms; initial connection time excluded).
#   rows/s         TPS times the rows per transaction (1 or BATCH).
#   proxy CPU/tx   user+system CPU of the proxy process (softfk or the relay)
#                  during the run, from /proc/PID/stat, per transaction, in
#                  microseconds: the proxy's own cost, whatever the cores do.
#   pg CPU/tx      the same for PostgreSQL's backends (the postmaster's
#                  cutime+cstime, counted once the run's backends have
#                  exited; includes any other backend that ended meanwhile).
#                  A real FK's trigger shows up here, softfk's check queries
#                  too.
#   A/B ratios     TPS ratio below 1 means A is slower than B; latency and
#                  CPU ratios above 1 mean A costs more (CPU: proxy +
#                  PostgreSQL per transaction). "TPS paired" is the median
#                  of the rounds' own ratios (A and B measured within the
#                  same round), which a machine whose speed drifts from one
#                  round to the next disturbs less; the targets are judged
#                  on the ratio of medians, as always.
#     softfk/relay   single rows, target >= 0.85: enforcing the soft FK costs
#                    at most 15% over a proxy that checks nothing
#     softfk/fk      batch, target >= 1.5: one check per statement beats
#                    per-row FK triggers
#     fk/nofk        what a real FK costs PostgreSQL
#     softfk/nofk    the whole price of softfk (a hop plus the checks)
#     relay/nofk     the unavoidable cost of one extra TCP hop
# On a small machine (2 cores) pgbench, PostgreSQL and the proxy compete for
# the same CPUs, so proxy CPU is taken from PostgreSQL and pgbench; the CPU
# per transaction is the figure to compare across machines.
# With the defaults a run takes about 9 minutes.
#
# Usage: bench/fk.sh [--rounds N] [--duration S] [--clients N] [--threads N]
#                    (works from any directory)
# Environment (flags win):
#   ROUNDS=3 DURATION=10 CLIENTS=8 THREADS=2   as the flags
#   USERS=100000   rows in users (user ids 1..USERS)
#   BATCH=100      rows per INSERT in the batch workload
#   WORKLOADS="single batch"   MODES="prepared simple"   what to run
#   WARMUP=2       seconds of unmeasured single-row inserts per setup before
#                  the rounds (0: none)
#   BENCH_OUT      if set, also write a key=value summary to this file
#   HUGE_PAGES=on  huge pages for the cluster when possible, as
#                  bench/passthrough.sh (off: 4 KiB pages)
#   SOFTFK_BIN     softfk binary to measure; default bin/softfk, built here
#                  with go build -o bin/softfk ./cmd/softfk
#
# Needs: PostgreSQL server binaries, psql and pgbench, go, Linux /proc. Run
# as root, it installs a missing PostgreSQL with apt-get and runs initdb and
# postgres as user postgres, since they refuse to run as root.
set -euo pipefail
export LC_ALL=C # pgbench, awk and printf all use "." decimals

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-8}
THREADS=${THREADS:-2}
USERS=${USERS:-100000}
BATCH=${BATCH:-100}
WARMUP=${WARMUP:-2}
WORKLOADS=${WORKLOADS:-single batch}
MODES=${MODES:-prepared simple}
BENCH_OUT=${BENCH_OUT:-}
SOFTFK_BIN=${SOFTFK_BIN:-}

BENCH_NAME=fk
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091 # (followed with shellcheck -x)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_args "$@"
check_uint ROUNDS DURATION CLIENTS THREADS USERS BATCH
check_seconds WARMUP
((THREADS <= CLIENTS)) || die "THREADS ($THREADS) must not exceed CLIENTS ($CLIENTS)"
read -r -a workloads <<<"$WORKLOADS"
read -r -a modes <<<"$MODES"
((${#workloads[@]})) || die "WORKLOADS is empty"
((${#modes[@]})) || die "MODES is empty"
for w in "${workloads[@]}"; do
	[[ $w == single || $w == batch ]] || die "unknown workload '$w' in WORKLOADS (single, batch)"
done
for m in "${modes[@]}"; do
	[[ $m == prepared || $m == simple || $m == extended ]] || die "unknown pgbench mode '$m' in MODES"
done

cd "$REPO"

TARGETS=(fk nofk softfk relay)
RATIOS=(softfk/relay softfk/fk fk/nofk softfk/nofk relay/nofk)
declare -A ROWS=([single]=1 [batch]=$BATCH)
declare -A LABEL=([single]="single-row INSERT" [batch]="$BATCH-row INSERT")
# The project's targets: workload -> "ratio minimum" on median TPS.
declare -A GOAL=([single]="softfk/relay 0.85" [batch]="softfk/fk 1.5")

# ---------------------------------------------------------------- start

bench_find_tools postgresql
bench_workdir

declare -A PORT PID DB
for target in fk softfk relay; do
	free_port "PORT[$target]"
done
PORT[nofk]=${PORT[fk]}
DB=([fk]=fk [nofk]=nofk [softfk]=nofk [relay]=nofk)

pg_settings "${PORT[fk]}"
start_cluster

fk_schema "$USERS"

start_relay "PID[relay]" "${PORT[relay]}" "${PORT[fk]}"

softfk_config "${PORT[softfk]}" "${PORT[fk]}"
softfk_cmd=("$SOFTFK_BIN" serve --config "$WORK/softfk.yaml" --log-format json)
echo "== softfk: ${softfk_cmd[*]}, port ${PORT[softfk]}, config:"
sed 's/^/     /' "$WORK/softfk.yaml"
check_out=$("$SOFTFK_BIN" check-config --config "$WORK/softfk.yaml" \
	--dsn "postgres://postgres@127.0.0.1:${PORT[fk]}/nofk?sslmode=disable" 2>&1) ||
	die "softfk check-config rejects the benchmark's configuration:$(echo; echo "$check_out")"
if [[ -n $check_out ]]; then
	mapfile -t lines <<<"$check_out"
	printf '   check-config: %s\n' "${lines[@]}"
fi
spawn "PID[softfk]" "$WORK/softfk.log" "${softfk_cmd[@]}"

wait_ready relay "${PORT[relay]}" "${PID[relay]}" "$WORK/relay.log"
wait_ready softfk "${PORT[softfk]}" "${PID[softfk]}" "$WORK/softfk.log"

# ---------------------------------------------------------------- scripts

printf '%s\n' "\\set uid random(1, $USERS)" \
	'INSERT INTO orders (user_id, amount) VALUES (:uid, 1);' >"$WORK/single.sql"
{
	values=()
	for ((i = 1; i <= BATCH; i++)); do
		echo "\\set u$i random(1, $USERS)"
		values+=("(:u$i, 1)")
	done
	(
		IFS=,
		echo "INSERT INTO orders (user_id, amount) VALUES ${values[*]};"
	)
} >"$WORK/batch.sql"
printf '%s\n' '\set uid 0' 'INSERT INTO orders (user_id, amount) VALUES (:uid, 1);' >"$WORK/orphan.sql"

# ---------------------------------------------------------------- sanity

# try TARGET SQL: run SQL once through TARGET's port and database, printing
# psql's output (SQLSTATE included on errors); the status is psql's.
try() {
	"$PSQL" -X -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -h 127.0.0.1 -p "${PORT[$1]}" -U postgres -d "${DB[$1]}" -c "$2" 2>&1
}

# expect_fk_error TARGET WHAT SQL: SQL must fail with SQLSTATE 23503.
expect_fk_error() {
	local out
	if out=$(try "$1" "$3"); then
		die "sanity check failed: $2 succeeded through $1, but must fail with SQLSTATE 23503 (foreign_key_violation):$(echo; echo "$out")"
	fi
	[[ $out == *"ERROR:  23503:"* ]] ||
		die "sanity check failed: $2 through $1 must fail with SQLSTATE 23503 (foreign_key_violation), got:$(echo; echo "$out")"
	echo "   ok  $1: $2 -> ${out%%$'\n'*}"
}

# expect_ok TARGET WHAT SQL: SQL must succeed.
expect_ok() {
	local out
	out=$(try "$1" "$3") || die "sanity check failed: $2 through $1 must succeed, got:$(echo; echo "$out")"
	echo "   ok  $1: $2 -> ${out%%$'\n'*}"
}

echo "== sanity checks (user 0 does not exist)"
expect_fk_error fk "INSERT user_id 0 with the real FK" "INSERT INTO orders (user_id, amount) VALUES (0, 1)"
expect_ok nofk "INSERT user_id 0 without FK, direct" "INSERT INTO orders (user_id, amount) VALUES (0, 1)"
sql nofk "DELETE FROM orders"
expect_fk_error softfk "INSERT user_id 0" "INSERT INTO orders (user_id, amount) VALUES (0, 1)"
expect_fk_error softfk "multi-row INSERT with user_id 0 among valid ones" \
	"INSERT INTO orders (user_id, amount) VALUES (1, 1), (0, 1), ($USERS, 1)"
expect_ok softfk "valid INSERT" "INSERT INTO orders (user_id, amount) VALUES (1, 1)"
expect_ok softfk "valid $BATCH-row INSERT" \
	"INSERT INTO orders (user_id, amount) SELECT 1 + i % $USERS, 1 FROM generate_series(1, $BATCH) i"
for mode in "${modes[@]}"; do
	log=$WORK/orphan-$mode.log
	if "$PGBENCH" "${PGBENCH_CONN[@]}" -p "${PORT[softfk]}" -n -M "$mode" -c 1 -t 1 -f "$WORK/orphan.sql" nofk >"$log" 2>&1; then
		die "sanity check failed: pgbench -M $mode inserting user_id 0 through softfk succeeded:$(echo; cat "$log")"
	fi
	grep -q 'violates foreign key constraint' "$log" ||
		die "sanity check failed: pgbench -M $mode inserting user_id 0 through softfk failed, but not with a foreign key violation:$(echo; cat "$log")"
	echo "   ok  softfk: pgbench -M $mode INSERT user_id 0 -> $(grep -o 'ERROR: .*' "$log" | head -1)"
done
got=$(sql nofk "SELECT count(*) FILTER (WHERE user_id = 0) || ' ' || count(*) FROM orders")
[[ $got == "0 $((BATCH + 1))" ]] ||
	die "sanity check failed: after the checks orders should hold $((BATCH + 1)) valid rows and no user_id 0, but (user 0 rows, all rows) = ($got)"
echo "   ok  nofk: orders holds exactly the $((BATCH + 1)) valid rows, no orphan"
alive "${PID[softfk]}" || die "softfk exited; the end of its log:$(echo; tail -20 "$WORK/softfk.log")"

# ---------------------------------------------------------------- measure

# reset_orders DB: empty orders for the next run, outside the measured time.
reset_orders() {
	sql "$1" "TRUNCATE orders RESTART IDENTITY" "VACUUM ANALYZE orders" "CHECKPOINT"
}

# run_pgbench TARGET WORKLOAD MODE SECONDS LOG: one pgbench run; dies
# showing the logs if it fails.
run_pgbench() {
	local target=$1 extra=
	if ! "$PGBENCH" "${PGBENCH_CONN[@]}" -p "${PORT[$target]}" -n -M "$3" -c "$CLIENTS" -j "$THREADS" \
		-T "$4" -f "$WORK/$2.sql" "${DB[$target]}" >"$5" 2>&1; then
		[[ -n ${PID[$target]:-} ]] &&
			extra=$(echo; echo "the end of the $target log:"; tail -20 "$WORK/$target.log")
		die "pgbench ($2, -M $3) against $target failed:$(echo; tail -20 "$5")$extra"
	fi
}

if ((WARMUP > 0)); then
	echo "== warm-up: ${WARMUP} s of single-row inserts per setup (not measured)"
	for target in "${TARGETS[@]}"; do
		reset_orders "${DB[$target]}"
		run_pgbench "$target" single prepared "$WARMUP" "$WORK/warmup-$target.log"
	done
fi

# Results per "workload.mode.target", one value per round, space separated.
declare -A TPS LAT PCPU GCPU
echo "== $ROUNDS round(s) per workload and mode: pgbench -n -c $CLIENTS -j $THREADS -T $DURATION -f SCRIPT, $(nproc) CPU(s) shared by everything"
round_no=0
for w in "${workloads[@]}"; do
	for mode in "${modes[@]}"; do
		for ((r = 0; r < ROUNDS; r++)); do
			mapfile -t order < <(rotate "$round_no" "${TARGETS[@]}")
			round_no=$((round_no + 1))
			for target in "${order[@]}"; do
				log=$WORK/$w-$mode-$r-$target.log
				reset_orders "${DB[$target]}"
				settle
				proxy_before=0
				[[ -n ${PID[$target]:-} ]] && proxy_before=$(cpu_ticks "${PID[$target]}")
				pg_before=$(child_cpu_ticks "$POSTMASTER")
				run_pgbench "$target" "$w" "$mode" "$DURATION" "$log"
				settle
				pg_after=$(child_cpu_ticks "$POSTMASTER")
				proxy_after=0
				if [[ -n ${PID[$target]:-} ]]; then
					alive "${PID[$target]}" || die "$target exited; the end of its log:$(echo; tail -20 "$WORK/$target.log")"
					proxy_after=$(cpu_ticks "${PID[$target]}")
				fi
				res=$(parse_pgbench "$log")
				read -r tps lat tx <<<"$res"
				((tx > 0)) || die "pgbench against $target completed no transactions:$(echo; cat "$log")"
				proxy_cpu=-
				[[ -n ${PID[$target]:-} ]] && proxy_cpu=$(ticks_us_per $((proxy_after - proxy_before)) "$tx")
				pg_cpu=$(ticks_us_per $((pg_after - pg_before)) "$tx")
				# Every reported transaction inserted its rows, and nothing else did
				# (pgbench may finish a few transactions it does not count at -T).
				per_tx=${ROWS[$w]}
				rows=$(sql "${DB[$target]}" "SELECT count(*) FROM orders")
				((rows >= tx * per_tx && rows <= (tx + CLIENTS) * per_tx)) ||
					die "$target: orders holds $rows rows after $tx transactions of $per_tx row(s)"
				TPS[$w.$mode.$target]+="$tps "
				LAT[$w.$mode.$target]+="$lat "
				PCPU[$w.$mode.$target]+="$proxy_cpu "
				GCPU[$w.$mode.$target]+="$pg_cpu "
				printf '   %-6s %-8s round %d  %-6s  tps %9.1f  rows/s %9.0f  latency %8.3f ms  CPU us/tx proxy %8s  pg %8s\n' \
					"$w" "$mode" $((r + 1)) "$target" "$tps" "$(awk -v t="$tps" -v n="${ROWS[$w]}" 'BEGIN {print t * n}')" \
					"$lat" "$proxy_cpu" "$pg_cpu"
			done
		done
	done
done

# ---------------------------------------------------------------- report

# plus A B: A+B, where "-" counts as 0.
plus() {
	awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (a == "-" ? 0 : a) + (b == "-" ? 0 : b)}'
}

summary=(
	"rounds=$ROUNDS" "duration_s=$DURATION" "clients=$CLIENTS" "threads=$THREADS" "users=$USERS" "batch=$BATCH"
	"cpus=$(nproc)" "postgres=$("$PGBIN/postgres" --version | awk '{print $3}')" "softfk_cmd=${softfk_cmd[*]}"
)
declare -A MED_TPS MED_LAT MED_PCPU MED_GCPU MED_CPU
goals=()
for w in "${workloads[@]}"; do
	for mode in "${modes[@]}"; do
		echo
		echo "== ${LABEL[$w]}, -M $mode: median of $ROUNDS round(s) x $DURATION s, $CLIENTS clients, $THREADS threads"
		printf '%-8s %11s %11s %11s %15s %13s\n' setup TPS rows/s "latency ms" "proxy CPU us/tx" "pg CPU us/tx"
		for target in "${TARGETS[@]}"; do
			k=$w.$mode.$target
			# shellcheck disable=SC2086 # word splitting of the per-round lists is intended
			{
				MED_TPS[$k]=$(median ${TPS[$k]})
				MED_LAT[$k]=$(median ${LAT[$k]})
				MED_PCPU[$k]=$(median ${PCPU[$k]})
				MED_GCPU[$k]=$(median ${GCPU[$k]})
			}
			MED_CPU[$k]=$(plus "${MED_PCPU[$k]}" "${MED_GCPU[$k]}")
			rows_s=$(awk -v t="${MED_TPS[$k]}" -v n="${ROWS[$w]}" 'BEGIN {printf "%.1f", t * n}')
			printf '%-8s %11.1f %11.0f %11.3f %15s %13s\n' "$target" "${MED_TPS[$k]}" "$rows_s" "${MED_LAT[$k]}" \
				"${MED_PCPU[$k]}" "${MED_GCPU[$k]}"
			summary+=(
				"$k.tps=${MED_TPS[$k]}" "$k.rows_per_s=$rows_s" "$k.latency_ms=${MED_LAT[$k]}"
				"$k.proxy_cpu_us_per_tx=${MED_PCPU[$k]}" "$k.pg_cpu_us_per_tx=${MED_GCPU[$k]}"
				"$k.tps_rounds=${TPS[$k]% }" "$k.proxy_cpu_us_per_tx_rounds=${PCPU[$k]% }"
			)
		done
		echo
		printf '%-14s %9s %11s %9s %14s\n' ratio TPS "TPS paired" latency "CPU/tx (all)"
		for pair in "${RATIOS[@]}"; do
			a=$w.$mode.${pair%/*} b=$w.$mode.${pair#*/}
			rt=$(ratio "${MED_TPS[$a]}" "${MED_TPS[$b]}")
			rp=$(paired_ratio "${TPS[$a]}" "${TPS[$b]}")
			rl=$(ratio "${MED_LAT[$a]}" "${MED_LAT[$b]}")
			rc=$(ratio "${MED_CPU[$a]}" "${MED_CPU[$b]}")
			note=
			read -r gpair gmin <<<"${GOAL[$w]}"
			if [[ $pair == "$gpair" ]]; then
				met=no
				awk -v r="$rt" -v m="$gmin" 'BEGIN {exit !(r >= m)}' && met=yes
				note="  <- target >= $gmin: $( [[ $met == yes ]] && echo met || echo NOT met)"
				goals+=("$(printf '%-18s -M %-8s %-12s %6s  (target >= %-4s)  %s' "${LABEL[$w]}" "$mode" "$pair" "$rt" "$gmin" \
					"$( [[ $met == yes ]] && echo met || echo 'NOT met')")")
				summary+=("$w.$mode.${pair/\//_over_}.target=$gmin" "$w.$mode.${pair/\//_over_}.target_met=$met")
			fi
			printf '%-14s %9s %11s %9s %14s%s\n' "$pair" "$rt" "$rp" "$rl" "$rc" "$note"
			key=$w.$mode.${pair/\//_over_}
			summary+=("$key.tps=$rt" "$key.tps_paired=$rp" "$key.latency=$rl" "$key.cpu=$rc")
		done
	done
done

echo
echo "== project targets (median TPS ratios)"
printf '   %s\n' "${goals[@]}"

write_summary "${summary[@]}"
