#!/usr/bin/env bash
# The HTTP client's benchmark, end to end: bench/client_bench against wrk, on the same servers in
# the same run, servers pinned to CPU 0 and clients to CPU 1.
#   1. /plaintext from ../shared/bench/limit.c: client_bench --concurrency 64 vs wrk -t1 -c64
#   2. a 100 MiB body from nginx (sendfile): client_bench --concurrency 1 vs wrk -t1 -c1, in GiB/s
# Each figure is the median of REPS runs (default 3) of DURATION seconds (default 5), the two
# clients alternating. Prints a markdown table and the ratios client_bench / wrk.
#
#   scripts/client_bench.sh [--reps N] [--duration S] [--build DIR]
#
# Needs wrk and nginx (Debian packages, installed when missing: nginx by scripts/deps) and a
# release build of client_bench (DIR, default build/release, configured with the release preset
# when missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

reps=3
duration=5
build=build/release
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) reps="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "scripts/client_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

kit=../shared/bench
work="${BENCH_WORK:-/tmp/squall-bench}"
plain_port="${PLAIN_PORT:-18021}"
body_port="${BODY_PORT:-18022}"
body_bytes=$((100 * 1024 * 1024))

scripts/deps  # nginx among the rest
if ! command -v wrk >/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends wrk
fi
[ -f "$build/build.ninja" ] || cmake --preset release -B "$build" >/dev/null
cmake --build "$build" --target client_bench >/dev/null
client="$build/bench/client_bench"
"$kit/build.sh" >/dev/null

scratch=$(mktemp -d /tmp/squall-client-bench-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT

wait_for_port() {
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "scripts/client_bench.sh: nothing listens on port $1" >&2
  exit 1
}

# The servers, on CPU 0.
taskset -c 0 "$work/limit" "$plain_port" >"$scratch/limit.log" 2>&1 &
pids+=($!)
mkdir -p "$scratch/www" "$scratch/tmp"
head -c "$body_bytes" /dev/urandom >"$scratch/www/100m.bin"  # real pages, not a sparse file
cat >"$scratch/nginx.conf" <<EOF
master_process off;
events { worker_connections 1024; }
http {
  client_body_temp_path $scratch/tmp; proxy_temp_path $scratch/tmp; fastcgi_temp_path $scratch/tmp;
  uwsgi_temp_path $scratch/tmp; scgi_temp_path $scratch/tmp;
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  server { listen 127.0.0.1:$body_port; root $scratch/www; }
}
EOF
taskset -c 0 /usr/sbin/nginx -p "$scratch/" -c "$scratch/nginx.conf" \
  -g "daemon off; pid $scratch/nginx.pid; error_log stderr;" 2>"$scratch/nginx.log" &
pids+=($!)
wait_for_port "$plain_port"
wait_for_port "$body_port"

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
minmax() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s–%s", lo, hi }'; }

# wrk's "Transfer/sec: 1.23GB" in GiB/s (wrk's units are powers of 1024).
wrk_gib() {
  awk '/^Transfer\/sec:/ {
    v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+$/, "", v);
    f = (u == "GB") ? 1 : (u == "MB") ? 1 / 1024 : (u == "KB") ? 1 / 1048576 : 1 / 1073741824;
    printf "%.3f\n", v * f }'
}
run_wrk() {  # connections url -> the whole wrk report
  taskset -c 1 wrk -t1 -c"$1" -d"${duration}s" "$2"
}
run_client() {  # concurrency url [options] -> the whole client_bench report
  local concurrency="$1" url="$2"
  shift 2
  taskset -c 1 "$client" --url "$url" --concurrency "$concurrency" --duration "$duration" "$@"
}

plain_url="http://127.0.0.1:$plain_port/plaintext"
body_url="http://127.0.0.1:$body_port/100m.bin"
echo "load before: $(uptime)" >&2
for rep in $(seq "$reps"); do
  echo "run $rep/$reps" >&2
  run_wrk 64 "$plain_url" | awk '/^Requests\/sec:/ { print $2 }' >>"$scratch/wrk_plain"
  run_client 64 "$plain_url" --expect-bytes 13 | tail -n 1 | cut -d= -f2 >>"$scratch/client_plain"
  run_wrk 1 "$body_url" | wrk_gib >>"$scratch/wrk_body"
  run_client 1 "$body_url" --expect-bytes "$body_bytes" |
    awk -F= '/^gib_per_second=/ { print $2 }' >>"$scratch/client_body"
  run_client 1 "$body_url" --expect-bytes "$body_bytes" --stream |
    awk -F= '/^gib_per_second=/ { print $2 }' >>"$scratch/client_body_stream"
done
echo "load after: $(uptime)" >&2

report() {  # label unit file
  printf '| %s | %s | %s [%s] | %s |\n' "$1" "$2" "$(median <"$3")" "$(minmax <"$3")" \
    "$(paste -sd' ' "$3")"
}
ratio() { awk -v a="$(median <"$1")" -v b="$(median <"$2")" 'BEGIN { printf "%.2f", a / b }'; }

echo
echo "| client | measure | median [min–max] of $reps runs of ${duration} s | each run |"
echo "|---|---|---|---|"
report "wrk -t1 -c64, limit.c /plaintext" "requests/s" "$scratch/wrk_plain"
report "client_bench --concurrency 64, limit.c /plaintext" "requests/s" "$scratch/client_plain"
report "wrk -t1 -c1, nginx 100 MiB body" "GiB/s" "$scratch/wrk_body"
report "client_bench --concurrency 1, nginx 100 MiB body" "GiB/s" "$scratch/client_body"
report "client_bench --concurrency 1 --stream, nginx 100 MiB body" "GiB/s" \
  "$scratch/client_body_stream"
echo
echo "plaintext_ratio=$(ratio "$scratch/client_plain" "$scratch/wrk_plain")"
echo "body_ratio=$(ratio "$scratch/client_body" "$scratch/wrk_body")"
echo "body_stream_ratio=$(ratio "$scratch/client_body_stream" "$scratch/wrk_body")"
