#!/usr/bin/env bash
# Checks the programs' options (--help, a bad --port), starts tcpecho_server on a free port, runs
# tcpecho_client against it, checks the echo, and stops the server with SIGTERM (it must exit 0).
# Usage: tcpecho_test.sh SERVER CLIENT
set -u
server=$1
client=$2

dir=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid"; fi
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

for program in "$server" "$client"; do
  "$program" --help >"$dir/help" || fail "$program --help exited with $?"
  grep -q -- "--port=INT" "$dir/help" || fail "--help does not list --port: $(cat "$dir/help")"
  grep -q -- "--address=STR" "$dir/help" || fail "--help does not list --address"
  "$program" --port=65536 2>"$dir/err" && fail "$program accepted --port=65536"
  grep -q "port" "$dir/err" || fail "the error does not name the option: $(cat "$dir/err")"
done
"$client" --message="two
lines" 2>/dev/null && fail "the client accepted a message of two lines"

# The server's output goes through a FIFO, so its first line is awaited without polling.
mkfifo "$dir/out"
"$server" --port=0 --address=127.0.0.1 >"$dir/out" &
server_pid=$!
exec 3<"$dir/out"
IFS= read -r -t 10 line <&3 || fail "the server printed nothing"
case "$line" in
  "Listening on 127.0.0.1:"*) port=${line#Listening on 127.0.0.1:} ;;
  *) fail "unexpected first line from the server: $line" ;;
esac
# Keep reading the server's output in the background, so that it never blocks on a full pipe.
cat <&3 >"$dir/rest" &
exec 3<&-

message="hello from ctest $$"
reply=$(timeout 20 "$client" --address=127.0.0.1 --port="$port" --message="$message") ||
  fail "the client failed"
[ "$reply" = "$message" ] || fail "expected '$message', got '$reply'"
echo "echo ok: $reply"

kill -TERM "$server_pid"
wait "$server_pid"
status=$?
server_pid=
[ "$status" -eq 0 ] || fail "the server exited with status $status"
wait
grep -q "Client connected from 127.0.0.1:" "$dir/rest" || fail "the server did not report the client"
echo "server stopped cleanly"
