#!/usr/bin/env bash
# Starts helloworld on a free port, fetches / with python3's http.client, checks the answer and
# the --help text, then stops the server with SIGTERM (it must exit 0).
# Usage: helloworld_test.sh HELLOWORLD
set -u
server=$1
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

"$server" --help >"$dir/help" || fail "--help exited with $?"
grep -q -- "--port=INT" "$dir/help" || fail "--help does not list --port: $(cat "$dir/help")"
"$server" --port=notanumber 2>"$dir/err" && fail "a bad --port was accepted"
grep -q "port" "$dir/err" || fail "the error does not name the option: $(cat "$dir/err")"

mkfifo "$dir/out"
"$server" --port=0 --address=127.0.0.1 >"$dir/out" 2>"$dir/log" &
server_pid=$!
exec 3<"$dir/out"
IFS= read -r -t 10 line <&3 || fail "the server printed nothing"
case "$line" in
  "Listening on http://127.0.0.1:"*/) port=${line#Listening on http://127.0.0.1:}; port=${port%/} ;;
  *) fail "unexpected first line from the server: $line" ;;
esac
cat <&3 >"$dir/rest" &
exec 3<&-

body=$(/usr/bin/python3 - "$port" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.request("GET", "/")
r = c.getresponse()
print(r.status, r.getheader("Content-Type"), r.read().decode())
PY
) || fail "the request failed"
[ "$body" = "200 text/html; charset=UTF-8 Hello, world" ] || fail "unexpected answer: $body"
echo "ok: $body"

kill -TERM "$server_pid"
wait "$server_pid"
status=$?
server_pid=
[ "$status" -eq 0 ] || fail "the server exited with $status after SIGTERM"
grep -q "200 GET / (127.0.0.1)" "$dir/log" || fail "no access log line: $(cat "$dir/log")"
