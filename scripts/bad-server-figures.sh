#!/bin/bash
# Prints how long `hv_monitor xymon` takes to give up on each kind of bad Xymon server, for
# BENCHMARKS.md ("Giving up on bad Xymon servers"). Each server is a python3 listener on
# 127.0.0.1 (a port the kernel picks) that misbehaves one way; the collection is the libvirt
# test driver (test:///default), so the figures are the sending alone plus a few ms.
#
#   TIMEOUT  --timeout given to hv_monitor (default 3)
#   BIN      binary to measure (default: target/release/hv_monitor, built here)
#   CAP      seconds after which a run is killed and reported as "still running" (default 90)
set -euo pipefail
cd "$(dirname "$0")/.."
TIMEOUT=${TIMEOUT:-3}
CAP=${CAP:-90}
if [ -z "${BIN:-}" ]; then
    cargo build --release --locked -q
    BIN=target/release/hv_monitor
fi
work=$(mktemp -d)
servers=()
cleanup() {
    for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# Starts a server behaving as $1; sets $port.
start_server() {
    python3 -u - "$1" > "$work/$1.port" <<'PY' &
import socket, sys, threading, time

behaviour = sys.argv[1]
HOLD = 600

def trickle(conn, data):
    for b in data:
        conn.sendall(bytes([b]))
        time.sleep(1)

def read_http_request(conn):
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = conn.recv(4096)
        if not chunk:
            return
        got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(body) < length:
        chunk = conn.recv(4096)
        if not chunk:
            return
        body += chunk

def read_to_eof(conn):
    while conn.recv(4096):
        pass

def handle(conn):
    try:
        if behaviour == "tcp-trickle":
            trickle(conn, b"x" * HOLD)
        elif behaviour in ("never-reads", "http-never-reads"):
            time.sleep(HOLD)
        elif behaviour == "tcp-never-closes":
            read_to_eof(conn)
            time.sleep(HOLD)
        elif behaviour == "http-trickle-headers":
            read_http_request(conn)
            trickle(conn, b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * HOLD + b"\r\n\r\n")
        elif behaviour == "http-trickle-body":
            read_http_request(conn)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % HOLD)
            trickle(conn, b"x" * HOLD)
        elif behaviour == "http-never-answers":
            read_http_request(conn)
            time.sleep(HOLD)
    except OSError:
        pass
    finally:
        conn.close()

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(64)
print(listener.getsockname()[1])
while True:
    conn, _ = listener.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
PY
    servers+=($!)
    for _ in $(seq 100); do
        port=$(cat "$work/$1.port")
        [ -n "$port" ] && return
        sleep 0.05
    done
    echo "bad-server-figures: the $1 server did not start" >&2
    exit 1
}

# One `hv_monitor xymon` run against the given --server values: "SECONDS s, exit CODE".
timed_run() {
    local args=() start end code=0
    for server in "$@"; do args+=(--server "$server"); done
    start=$(date +%s%N)
    timeout --signal=KILL "$CAP" "$BIN" xymon --uri test:///default --host bad.example.com \
        --timeout "$TIMEOUT" --state "$work/state.json" "${args[@]}" \
        >/dev/null 2>"$work/err" || code=$?
    end=$(date +%s%N)
    if [ "$code" = 137 ]; then
        echo "still running after $CAP s (killed)"
    else
        awk -v ns=$((end - start)) -v c=$code 'BEGIN {printf "%.2f s, exit %d", ns / 1e9, c}'
    fi
}

# What hv_monitor said, as one markdown table cell.
said() { head -1 "$work/err" | cut -c1-240 | sed 's/|/\\|/g'; }

cat <<EOF
## Giving up on bad Xymon servers (\`scripts/bad-server-figures.sh\`)

$(scripts/benchmarks_md.py produced-by "TIMEOUT=$TIMEOUT CAP=$CAP scripts/bad-server-figures.sh")

Time for one \`hv_monitor xymon --timeout $TIMEOUT\` run (\`$BIN\`; collection from the libvirt
test driver, then the host check and the message) against a server on 127.0.0.1 that
misbehaves one way, and against all of them in one run; a run still going after $CAP s is
killed. Every run should end within one \`--timeout\` per server plus process start and the
collection.

| bad server | run | what hv_monitor said |
|---|---|---|
EOF
all=()
for kind in tcp-trickle never-reads tcp-never-closes \
    http-trickle-headers http-trickle-body http-never-answers http-never-reads; do
    start_server "$kind"
    case $kind in
        tcp-trickle) what="TCP, trickles its answer a byte a second" ;;
        never-reads) what="TCP, accepts and never reads" ;;
        tcp-never-closes) what="TCP, reads the message, never answers or closes" ;;
        http-trickle-headers) what="HTTP, trickles its headers a byte a second" ;;
        http-trickle-body) what="HTTP, trickles its body a byte a second" ;;
        http-never-answers) what="HTTP, reads the request, never answers" ;;
        http-never-reads) what="HTTP, accepts and never reads" ;;
    esac
    case $kind in
        tcp-* | never-reads) server=127.0.0.1:$port ;;
        *) server=http://127.0.0.1:$port/xymon-cgi/xymoncgimsg.cgi ;;
    esac
    all+=("$server")
    run=$(timed_run "$server")
    echo "| $what | $run | $(said) |"
done
closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run=$(timed_run "127.0.0.1:$closed")
echo "| closed port (refused) | $run | $(said) |"
run=$(timed_run "${all[@]}")
echo "| all ${#all[@]} bad servers above in one run (bound ${#all[@]} x $TIMEOUT s) | $run | $(said) |"
