#!/bin/bash
# The README's relay table, each figure beside the transport floor measured in
# the same run, repeated $REPS times (default 3) on fresh processes:
#   1. memory store, 10k msg/s, then the ceiling (x$FACTOR steps of $STEP_SECS s), with the floor
#   2. memory store, 5k msg/s
#   3. Redis store, 5k msg/s, then its ceiling
#   4. two nodes on Redis, customers on one and agents on the other, 5k msg/s
# PIN=1 puts the server, the floor relay and redis-server on core 0 and the load
# generator on core 1 (taskset). Build first:
#   cargo build --release -p switchboard -p switchboard-loadtest
# Results go to $OUT (default /tmp/relay-bench): one JSON per measurement and
# summary.tsv. Loopback only; every process is stopped at the end.
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$REPO/target/release
OUT=${OUT:-/tmp/relay-bench}
REPS=${REPS:-3}
FACTOR=${FACTOR:-1.2}
PAIRS=${PAIRS:-1000}
SECS=${SECS:-10}
STEP_SECS=${STEP_SECS:-6}
mkdir -p "$OUT" && cd "$OUT" || exit 1
SERVER_CPU=() GEN_CPU=()
if [ "${PIN:-0}" = 1 ]; then SERVER_CPU=(taskset -c 0) GEN_CPU=(taskset -c 1); fi

PIDS=()
stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  PIDS=()
}
trap stop_all EXIT

roster() {
  echo "listen = \"127.0.0.1:$1\""
  echo "[tickets]"
  echo "ticket_when_unserved = false"
  "$BIN/switchboard-loadtest" relay-roster --agents 100 --capacity 100
}

# serve PORT [NODE_ID REDIS_PORT]: a fresh node
serve() {
  roster "$1" > "node-$1.toml"
  if [ $# -gt 1 ]; then
    SWITCHBOARD_NODE_ID=$2 "${SERVER_CPU[@]}" "$BIN/switchboard" serve --config "node-$1.toml" \
      --redis-url "redis://127.0.0.1:$3/" > "node-$1.log" 2>&1 &
  else
    "${SERVER_CPU[@]}" "$BIN/switchboard" serve --config "node-$1.toml" > "node-$1.log" 2>&1 &
  fi
  PIDS+=($!)
  for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$1/healthz" > /dev/null && return 0
    sleep 0.1
  done
  echo "node on $1 did not start: see $OUT/node-$1.log" >&2
  exit 1
}

redis() {
  "${SERVER_CPU[@]}" redis-server --port "$1" --save "" --appendonly no > "redis-$1.log" 2>&1 &
  PIDS+=($!)
  sleep 0.5
}

relay() { # NAME ARGS...: one measurement
  local name=$1
  shift
  "${GEN_CPU[@]}" "$BIN/switchboard-loadtest" relay --pairs "$PAIRS" --secs "$SECS" --step-secs "$STEP_SECS" --out "$name.json" "$@" > "$name.txt" 2>&1 \
    || { echo "$name failed: see $OUT/$name.txt" >&2; exit 1; }
}

printf 'rep\tfigure\tswitchboard\tfloor\tratio\n' > summary.tsv
row() { # REP FIGURE FILE JQ-SWITCHBOARD JQ-FLOOR
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$(jq -r "$4" "$3")" "$(jq -r "$5" "$3")" \
    | awk -F'\t' -v OFS='\t' '{ r = ($3 ~ /^[0-9.]+$/ && $4 ~ /^[0-9.]+$/ && $4 > 0) ? sprintf("%.2f", $3 / $4) : "-"; print $0, r }' >> summary.tsv
}

for rep in $(seq "$REPS"); do
  echo "== rep $rep"
  serve 18480
  "${SERVER_CPU[@]}" "$BIN/switchboard-loadtest" floor-relay --listen 127.0.0.1:19100 > floor.log 2>&1 &
  PIDS+=($!)
  sleep 0.5
  relay "mem-10k-$rep" --target ws://127.0.0.1:18480 --rate 10000 --with-floor \
    --floor-url ws://127.0.0.1:19100 --ceiling --factor "$FACTOR"
  relay "mem-5k-$rep" --target ws://127.0.0.1:18480 --rate 5000
  stop_all

  redis 16395
  serve 18481 bench-a 16395
  relay "redis-5k-$rep" --target ws://127.0.0.1:18481 --rate 5000 --ceiling --factor "$FACTOR"
  serve 18482 bench-b 16395
  relay "two-nodes-5k-$rep" --target ws://127.0.0.1:18482 --agent-target ws://127.0.0.1:18481 --rate 5000
  stop_all

  f=mem-10k-$rep.json
  row "$rep" "delivery p50 @10k, memory (ms)" "$f" .switchboard.delivery.p50_ms .floor.delivery.p50_ms
  row "$rep" "delivery p99 @10k, memory (ms)" "$f" .switchboard.delivery.p99_ms .floor.delivery.p99_ms
  row "$rep" "send lateness p99 @10k (ms)" "$f" .switchboard.send_lateness.p99_ms .floor.send_lateness.p99_ms
  row "$rep" "ceiling, memory (msg/s)" "$f" ".switchboard.ceiling_msgs_per_sec | floor" ".floor.ceiling_msgs_per_sec | floor"
  row "$rep" "ceiling, memory: last step failed by" "$f" \
    '[.switchboard.steps[] | select(.held | not) | .failed_by][0] // "none"' \
    '[.floor.steps[] | select(.held | not) | .failed_by][0] // "none"'
  row "$rep" "delivery p99 @5k, Redis vs memory (ms)" "redis-5k-$rep.json" .switchboard.delivery.p99_ms \
    "$(jq -r .switchboard.delivery.p99_ms "mem-5k-$rep.json")"
  row "$rep" "ceiling, Redis (msg/s)" "redis-5k-$rep.json" ".switchboard.ceiling_msgs_per_sec | floor" '0'
  row "$rep" "ceiling, Redis: last step failed by" "redis-5k-$rep.json" \
    '[.switchboard.steps[] | select(.held | not) | .failed_by][0] // "none"' '0'
  row "$rep" "delivery p99 @5k, two nodes vs one, memory (ms)" "two-nodes-5k-$rep.json" \
    .switchboard.delivery.p99_ms "$(jq -r .switchboard.delivery.p99_ms "mem-5k-$rep.json")"
  tail -n 9 summary.tsv
done
echo "summary: $OUT/summary.tsv"
