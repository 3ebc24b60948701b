#!/usr/bin/env bash
# copy.sh: bulk loading children with COPY FROM STDIN, checked by a real
# FOREIGN KEY or by softfk: throughput, and softfk's memory as the stream grows.
#
# Tables, in two databases on one throwaway cluster (127.0.0.1 TCP):
#   users  (id bigint primary key, name text)            USERS rows (100000)
#   orders (id bigserial primary key, user_id bigint not null, amount int)
#          with an index on orders(user_id)
#   fk      database fk: orders.user_id REFERENCES users(id), loaded directly
#           (PostgreSQL fires its RI trigger once per row)
#   softfk  database nofk (no constraint) through softfk serve, which checks
#           the stream's keys in batches before the COPY may end
#   nofk    database nofk loaded directly: the ceiling, checks nothing
#
# The data: a text-format file of ROWS (1000000) rows "user_id<TAB>1", every
# user id valid, loaded with psql's \copy (COPY ... FROM STDIN). Per round
# and target (order rotated every round) orders is emptied first, outside
# the measured time; after the load, orders must hold exactly ROWS rows.
# Before measuring: through softfk, a COPY whose last row references a
# missing user must fail with SQLSTATE 23503 and leave orders empty.
#
# Memory: softfk's resident set (VmRSS) is sampled every 50 ms during each
# load through it; the peak is reported for a SMALL-row load (100000) and
# for the ROWS-row loads. Flat memory means the two peaks are about equal.
#
# Reading the results (medians over ROUNDS rounds):
#   seconds, rows/s   wall time of the \copy as psql runs it
#   softfk/fk         rows/s ratio; target >= 1.0 (batched key checks
#                     against per-row triggers)
#   softfk/nofk       what checking costs over loading with no check at all
#
# Usage: bench/copy.sh [--rounds N]            (works from any directory)
# Environment (flags win):
#   ROUNDS=3  USERS=100000  ROWS=1000000  SMALL=100000
#   BENCH_OUT      if set, also write a key=value summary to this file
#   HUGE_PAGES=on  huge pages for the cluster when possible, as
#                  bench/passthrough.sh (off: 4 KiB pages)
#   SOFTFK_BIN     softfk binary to measure; default bin/softfk, built here
#
# Needs: PostgreSQL server binaries and psql, go, Linux /proc. As root it
# installs a missing PostgreSQL with apt-get and runs initdb and postgres as
# user postgres. Everything it started is stopped, by pid, on exit.
set -euo pipefail
export LC_ALL=C

ROUNDS=${ROUNDS:-3}
USERS=${USERS:-100000}
ROWS=${ROWS:-1000000}
SMALL=${SMALL:-100000}
BENCH_OUT=${BENCH_OUT:-}
SOFTFK_BIN=${SOFTFK_BIN:-}
CLIENTS=1 # one loader at a time (sizes max_connections)

BENCH_NAME=copy
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_args "$@"
check_uint ROUNDS USERS ROWS SMALL
cd "$REPO"

bench_find_tools postgresql
bench_workdir
declare -A PORT DB=([fk]=fk [nofk]=nofk [softfk]=nofk)
free_port "PORT[fk]"
free_port "PORT[softfk]"
PORT[nofk]=${PORT[fk]}
pg_settings "${PORT[fk]}"
start_cluster

fk_schema "$USERS"

softfk_config "${PORT[softfk]}" "${PORT[fk]}"
SOFTFK_PID=
spawn SOFTFK_PID "$WORK/softfk.log" "$SOFTFK_BIN" serve --config "$WORK/softfk.yaml" --log-format json
wait_ready softfk "${PORT[softfk]}" "$SOFTFK_PID" "$WORK/softfk.log"

echo "== data: $ROWS and $SMALL rows of valid user ids"
awk -v n="$ROWS" -v u="$USERS" 'BEGIN {srand(7); for (i = 0; i < n; i++) printf "%d\t1\n", 1 + int(rand() * u)}' >"$WORK/rows.tsv"
head -n "$SMALL" "$WORK/rows.tsv" >"$WORK/small.tsv"
{ head -n 999 "$WORK/rows.tsv"; printf '0\t1\n'; } >"$WORK/orphan.tsv"

# load TARGET FILE: \copy FILE into TARGET's orders; prints psql's output.
load() {
	"$PSQL" -X -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -h 127.0.0.1 -p "${PORT[$1]}" -U postgres -d "${DB[$1]}" \
		-c "\\copy orders (user_id, amount) FROM '$2'" 2>&1
}

# rss_kib: softfk's current resident set in KiB.
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$SOFTFK_PID/status"; }

# timed_load TARGET FILE: load and print "seconds peak_rss_kib" (peak "-"
# unless through softfk); dies if the load fails.
timed_load() {
	local target=$1 file=$2 start end out peak=- sampler=
	if [[ $target == softfk ]]; then
		(peak=0; while :; do r=$(rss_kib); ((r > peak)) && { peak=$r; echo "$peak" >"$WORK/peak"; }; sleep 0.05; done) &
		sampler=$!
	fi
	start=$(date +%s.%N)
	out=$(load "$target" "$file") || die "COPY into $target failed:$(echo; echo "$out")"
	end=$(date +%s.%N)
	if [[ -n $sampler ]]; then
		kill "$sampler" 2>/dev/null || true
		wait "$sampler" 2>/dev/null || true
		peak=$(cat "$WORK/peak")
	fi
	awk -v s="$start" -v e="$end" -v p="$peak" 'BEGIN {printf "%.3f %s\n", e - s, p}'
}

echo "== sanity: through softfk a COPY whose last row references user 0 must fail with 23503 and write nothing"
if out=$(load softfk "$WORK/orphan.tsv"); then
	die "sanity check failed: the COPY with user 0 succeeded through softfk:$(echo; echo "$out")"
fi
[[ $out == *"ERROR:  23503:"* ]] || die "sanity check failed: expected SQLSTATE 23503, got:$(echo; echo "$out")"
[[ $(sql nofk "SELECT count(*) FROM orders") == 0 ]] || die "sanity check failed: the failed COPY left rows behind"
echo "   ok  ${out%%$'\n'*}"

reset() { sql "${DB[$1]}" "TRUNCATE orders RESTART IDENTITY" "VACUUM ANALYZE orders" "CHECKPOINT"; }

reset softfk
read -r small_s small_peak <<<"$(timed_load softfk "$WORK/small.tsv")"
echo "   softfk, $SMALL rows: ${small_s} s, peak RSS ${small_peak} KiB"

TARGETS=(fk softfk nofk)
declare -A SECS
big_peak=0
for ((r = 0; r < ROUNDS; r++)); do
	mapfile -t order < <(rotate "$r" "${TARGETS[@]}")
	for target in "${order[@]}"; do
		reset "$target"
		read -r secs peak <<<"$(timed_load "$target" "$WORK/rows.tsv")"
		n=$(sql "${DB[$target]}" "SELECT count(*) FROM orders")
		((n == ROWS)) || die "$target: orders holds $n rows after loading $ROWS"
		SECS[$target]+="$secs "
		[[ $peak != - ]] && ((peak > big_peak)) && big_peak=$peak
		printf '   round %d  %-6s  %8.3f s  %10.0f rows/s  peak RSS %s KiB\n' $((r + 1)) "$target" "$secs" \
			"$(awk -v n="$ROWS" -v s="$secs" 'BEGIN {print n / s}')" "$peak"
	done
done

echo "== medians over $ROUNDS round(s), $ROWS rows"
summary=("rows=$ROWS" "users=$USERS" "rounds=$ROUNDS" "cpus=$(nproc)")
declare -A RATE
for target in "${TARGETS[@]}"; do
	# shellcheck disable=SC2086
	med=$(median ${SECS[$target]})
	RATE[$target]=$(awk -v n="$ROWS" -v s="$med" 'BEGIN {printf "%.0f", n / s}')
	printf '   %-6s  %8.3f s  %10s rows/s\n' "$target" "$med" "${RATE[$target]}"
	summary+=("$target.seconds=$med" "$target.rows_per_s=${RATE[$target]}")
done
sf=$(ratio "${RATE[softfk]}" "${RATE[fk]}")
sn=$(ratio "${RATE[softfk]}" "${RATE[nofk]}")
goal=$(awk -v r="$sf" 'BEGIN {print (r >= 1.0) ? "met" : "NOT met"}')
echo "   softfk/fk    $sf   (target >= 1.0: $goal)"
echo "   softfk/nofk  $sn"
echo "   softfk peak RSS: $small_peak KiB for $SMALL rows, $big_peak KiB for $ROWS rows"
summary+=("softfk_over_fk=$sf" "softfk_over_nofk=$sn" "softfk_peak_rss_kib.small=$small_peak" "softfk_peak_rss_kib.rows=$big_peak")
write_summary "${summary[@]}"
