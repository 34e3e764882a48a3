#!/usr/bin/env bash
# Property-based test of the REST API against its own OpenAPI document:
# schemathesis (pinned below) loads /api/openapi.json from a real
# `switchboard serve` on a free loopback port and sends every operation
# schema-valid and schema-invalid requests (examples, coverage, fuzzing and
# stateful phases, every check: no 5xx, status codes, content types, headers
# and bodies as documented, invalid data refused, valid data taken, auth not
# ignored ...), as a supervisor. Deterministic (the same requests every run)
# and bounded (SCHEMATHESIS_MAX_EXAMPLES test cases per operation and phase).
# Before it, a few customers leave messages over the WebSocket, so that there
# are tickets, dead webhook deliveries and a queued chat to work on.
#
# Installs the pinned schemathesis with pip when `schemathesis --version`
# is another (root: into the interpreter's site-packages; otherwise
# --user), builds target/debug/switchboard when it is missing (or uses
# $SWITCHBOARD_BIN), and exits with schemathesis's status after one line:
#   schemathesis: N operations, N test cases, N failures (...)
# A JUnit XML report goes to $SCHEMATHESIS_REPORT_DIR/schemathesis.xml if set.
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.32.5
# 100: about 1,700 test cases in about 30 s on the 2-core machine.
max_examples=${SCHEMATHESIS_MAX_EXAMPLES:-100}
python=${PYTHON:-python3}
bin=${SWITCHBOARD_BIN:-target/debug/switchboard}

# schemathesis through the interpreter pip installs it for, whatever PATH has.
st() {
  "$python" -c 'import sys; from schemathesis.cli import schemathesis; sys.argv[0] = "schemathesis"; sys.exit(schemathesis())' "$@"
}
if [ "$(st --version 2>/dev/null || true)" != "schemathesis, version $version" ]; then
  echo "schemathesis.sh: installing schemathesis==$version"
  user=()
  # --user only outside a virtualenv and for a non-root user.
  if [ "$(id -u)" -ne 0 ] && "$python" -c 'import sys; sys.exit(sys.prefix != sys.base_prefix)'; then
    user=(--user)
  fi
  pip=("$python" -m pip install --quiet --disable-pip-version-check "${user[@]}" "schemathesis==$version")
  # A Debian python refuses even --user installs (PEP 668) unless told.
  "${pip[@]}" || "${pip[@]}" --break-system-packages
fi

[ -x "$bin" ] || cargo build --locked --bin switchboard

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A supervisor (whose token schemathesis sends) and a plain agent. Failed
# sign-ins are allowed in bulk: schemathesis sends wrong tokens on purpose,
# and the per-address limit would otherwise refuse its good ones with 429 for
# a while, at times that vary from run to run (the limit itself has its own
# tests; the document lists its 429). The dashboard stream pushes at its
# fastest, so that reading a few of its events takes a fraction of a second.
# Chats queue even though no agent is on duty, and a customer who left stays
# queued for the whole run. The helpdesk webhook points at a loopback port
# nothing listens on, and gives up after one attempt: every ticket's delivery
# becomes a dead letter, for the dead-letter operations to list and retry.
dead_port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
supervisor_token="schemathesis-supervisor-$$-$RANDOM"
agent_token="schemathesis-agent-$$-$RANDOM"
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
cat >"$work/switchboard.toml" <<EOF
listen = "127.0.0.1:0"

[timeouts]
customer_grace_secs = 600

[security]
auth_failure_burst = 1000

[dashboard]
push_ms = 100
sla_wait_secs = 1
sla_urgent_secs = 1

[tickets]
ticket_when_unserved = false
webhook_url = "http://127.0.0.1:$dead_port/never-listening"
webhook_secret = "schemathesis-webhook-secret"
webhook_max_attempts = 1
webhook_backoff_ms = 100
webhook_backoff_max_secs = 1
webhook_timeout_secs = 1

[[agents]]
id = "sue"
name = "Sue"
token_sha256 = "$(sha "$supervisor_token")"
skills = ["general", "trading"]
languages = ["en"]
role = "supervisor"

[[agents]]
id = "al"
name = "Al"
token_sha256 = "$(sha "$agent_token")"
skills = ["general"]
languages = ["en", "es"]
EOF
cat >"$work/schemathesis.toml" <<'EOF'
# A stream is read for 3 events (or the request timeout), not 20.
max-stream-events = 3

# A note over limits.max_text_chars (the document's maxLength) is refused with
# 413 `too_large`, as the document says: a rejection like the default ones.
[[operations]]
include-path = "/api/tickets/{id}"
include-method = "PATCH"
checks.negative_data_rejection.expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
EOF

env -u SWITCHBOARD_LISTEN -u SWITCHBOARD_REDIS_URL "$bin" serve --config "$work/switchboard.toml" \
  >"$work/server.log" 2>&1 &
server_pid=$!
addr=
for _ in $(seq 1 100); do
  addr=$(grep -o 'listening on 127\.0\.0\.1:[0-9]*' "$work/server.log" | head -n1 | sed 's/listening on //' || true)
  [ -n "$addr" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$addr" ]; then
  echo "schemathesis.sh: switchboard did not start:"
  cat "$work/server.log"
  exit 1
fi
base="http://$addr"
healthy=
for _ in $(seq 1 100); do
  if "$python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$base/healthz" 2>/dev/null; then
    healthy=1
    break
  fi
  sleep 0.1
done
if [ -z "$healthy" ]; then
  echo "schemathesis.sh: $base/healthz never answered 200:"
  cat "$work/server.log"
  exit 1
fi

# Something to work on, made as customers make it (a minimal WebSocket client,
# Python's standard library only): three chats left as messages, so three
# tickets (and three dead letters), and one chat still queued. The document's
# links lead schemathesis from the lists to them.
seed_failed() {
  echo "schemathesis.sh: could not make the test data; the server's log:"
  tail -n 40 "$work/server.log"
  exit 1
}
"$python" - "$addr" "$base" "$supervisor_token" <<'EOF' || seed_failed
import base64, json, os, socket, struct, sys, time, urllib.request

host, port = sys.argv[1].rsplit(":", 1)
base, token = sys.argv[2], sys.argv[3]


class Socket:
    def __init__(self, path):
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise SystemExit(f"seed: no WebSocket upgrade: {head!r}")

    def _recv(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise SystemExit("seed: the server closed the socket")
        return chunk

    def _take(self, n):
        while len(self.buf) < n:
            self.buf += self._recv()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, frame):
        data, mask = json.dumps(frame).encode(), os.urandom(4)
        n = len(data)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def wait(self, kind):
        """The next frame of type `kind`; an `error` frame stops the seeding."""
        while True:
            b0, b1 = self._take(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._take(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._take(8))[0]
            payload = self._take(n)
            if b0 & 0x0F != 1:
                continue
            frame = json.loads(payload)
            if frame.get("type") == "error":
                raise SystemExit(f"seed: {frame}")
            if frame.get("type") == kind:
                return frame


def chat(visitor, topic, text):
    ws = Socket("/ws/customer")
    ws.send({"type": "hello", "visitor_id": visitor})
    ws.wait("welcome")
    ws.send({"type": "start", "topic": topic, "language": "en", "text": text, "client_msg_id": "s-1"})
    ws.wait("queued")
    return ws


for n, topic in enumerate(["general", "trading", "general"], 1):
    ws = chat(f"schemathesis-{n}", topic, f"My deposit number {n} has not arrived")
    ws.send({"type": "leave_message", "client_msg_id": "m-1", "text": "Please answer by email"})
    ws.wait("ended")
    ws.sock.close()
chat("schemathesis-queued", "general", "Is anyone there?").sock.close()

# Every delivery dead before the run starts, so that each run starts alike.
request = urllib.request.Request(f"{base}/api/webhooks/dead-letters", headers={"Authorization": f"Bearer {token}"})
for _ in range(100):
    with urllib.request.urlopen(request, timeout=5) as answer:
        outbox = json.load(answer)
    if outbox["dead"] >= 3 and outbox["pending"] == 0:
        break
    time.sleep(0.1)
else:
    raise SystemExit(f"seed: the deliveries did not all fail: {outbox}")
EOF

reports=${SCHEMATHESIS_REPORT_DIR:-$work/reports}
mkdir -p "$reports"
reports=$(cd "$reports" && pwd)
start=$SECONDS
rc=0
# From the temporary folder, where schemathesis keeps its .schemathesis/ cache.
cd "$work"
st --config-file "$work/schemathesis.toml" --no-color run "$base/api/openapi.json" \
  --url "$base" \
  --header "Authorization: Bearer $supervisor_token" \
  --checks all \
  --max-examples "$max_examples" \
  --generation-deterministic \
  --continue-on-failure \
  --workers 1 \
  --request-timeout 10 \
  --report junit --report-junit-path "$reports/schemathesis.xml" \
  2>&1 | tee "$work/output.txt" || rc=$?
elapsed=$((SECONDS - start))
# A server that died or panicked fails the run, whatever schemathesis saw.
if ! kill -0 "$server_pid" 2>/dev/null || grep -q 'panicked' "$work/server.log"; then
  echo "schemathesis.sh: switchboard died or panicked during the run; its log:"
  grep -A20 'panicked' "$work/server.log" || tail -n 40 "$work/server.log"
  [ "$rc" -ne 0 ] || rc=1
fi

# One line from schemathesis's own summary: the operations it tested, the
# test cases it generated and the unique failures it found.
tested=$(sed -n 's/^ *Tested: \([0-9]*\).*/\1/p' "$work/output.txt" | tail -n1)
cases=$(sed -n 's/^ *\([0-9]*\) generated,.*/\1/p' "$work/output.txt" | tail -n1)
failures=$(sed -n 's/.* generated, .*found \([0-9]*\) unique failure.*/\1/p' "$work/output.txt" | tail -n1)
echo "schemathesis: ${tested:-?} operations, ${cases:-?} test cases, ${failures:-0} failures" \
  "(schemathesis $version, deterministic, at most $max_examples examples per operation and phase;" \
  "${elapsed} s; exit $rc)"
exit "$rc"
