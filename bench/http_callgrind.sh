#!/usr/bin/env bash
# Instructions per pipelined request of http_bench_server, counted by callgrind (noise-free, unlike
# timings on a shared machine): the server runs under valgrind twice, serving N1 and then N2
# requests pipelined 16 deep on one connection, and the difference of the two totals is divided
# by N2 - N1 (start-up and shutdown cancel out). Needs valgrind and python3.
#   bench/http_callgrind.sh [SERVER_BINARY] [DEPTH]   (SERVER_ARGS="--web" for the web layer)
set -euo pipefail
server="${1:-build/release/bench/http_bench_server}"
depth="${2:-16}"
port=18199
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

client() {  # client N: sends N requests in batches of DEPTH, waits for each batch's answers
  python3 - "$port" "$1" "$depth" <<'PY'
import socket, sys
port, n, depth = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
request = b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port
s = socket.create_connection(("127.0.0.1", port))
done = 0
while done < n:
    s.sendall(request * depth)
    data = b""
    while data.count(b"Hello, World!") < depth:
        chunk = s.recv(1 << 20)
        if not chunk:
            sys.exit("the server closed the connection")
        data += chunk
    done += depth
PY
}

run() {  # run N: prints the total instructions of a server run serving N requests
  valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1" "$server" --port "$port" ${SERVER_ARGS:-} \
    >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()" \
      2>/dev/null && break
    sleep 0.2
  done
  client "$1"
  kill -INT "$pid"
  wait "$pid" || true
  awk '/^totals:/ {print $2}' "$out/cg.$1"
}

n1=$((100 * depth))
n2=$((1100 * depth))
a=$(run "$n1")
b=$(run "$n2")
echo "instructions_per_request=$(((b - a) / (n2 - n1)))"
