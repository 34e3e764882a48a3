#!/bin/bash
# 100k idle customers over 6 switchboard nodes sharing one redis-server, held
# 600 s: one load-tester process per node (each process may hold at most 20k
# descriptors here), each with its own 8 source addresses. Build first:
#   cargo build --release -p switchboard -p switchboard-loadtest
# Reports go to $OUT (default /tmp/idle-100k)/out<i>/. Loopback only; stops by itself.
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-/tmp/idle-100k}
mkdir -p "$OUT" && cd "$OUT" || exit 1
redis-server --port 16391 --save "" --appendonly no > redis.log 2>&1 &
sleep 0.5
printf '' > empty.toml
PIDS=()
for i in 0 1 2 3 4 5; do
  SWITCHBOARD_NODE_ID=big$i SWITCHBOARD_REDIS__PREFIX=big: $REPO/target/release/switchboard serve --config empty.toml --listen 127.0.0.1:1809$i --redis-url redis://127.0.0.1:16391/ > node$i.log 2>&1 &
  PIDS+=($!)
  sleep 1
done
echo "nodes: ${PIDS[*]}"
LT=()
for i in 0 1 2 3 4 5; do
  first=$((1 + 8*i))
  sed -e 's/^connections = 15000/connections = 16667/' -e 's/^open_rate = 1000.0/open_rate = 300.0/' -e 's/^hold_secs = 600/hold_secs = 600/' -e 's/^ci_scale = 0.025//' -e "s/^source_addresses = 4/source_addresses = 8\nsource_first = $first/" -e 's/^name = "idle-capacity"/name = "idle-100k-part"/' $REPO/loadtest/scenarios/idle-capacity.toml > part$i.toml
  $REPO/target/release/switchboard-loadtest run part$i.toml --target ws://127.0.0.1:1809$i --server-pid ${PIDS[$i]} --out out$i --quiet > lt$i.log 2>&1 &
  LT+=($!)
done
for p in "${LT[@]}"; do wait $p; echo "loadtest $p exit $?"; done
for p in "${PIDS[@]}"; do kill $p; done
redis-cli -p 16391 shutdown nosave
echo done
