# Shared by the scripts of scripts/perf: start a release mrcp-server on loopback, read its metrics.
# shellcheck shell=bash

perf_server_bin=${MRCP_SERVER_BIN:-target/release/mrcp-server}
perf_client_bin=${MRCP_CLIENT_BIN:-target/release/mrcp-client}

perf_build() {
    if [ "${PERF_BUILD:-1}" != 0 ]; then
        echo "==> building release mrcp-server and mrcp-client" >&2
        cargo build --quiet --release --locked -p mrcp-server -p mrcp-client
    fi
}

# perf_start_server OUT_DIR [ARGS...]: starts the server with ARGS on free loopback ports and sets
# $server (pid), $sip, $http.
perf_start_server() {
    local dir=$1
    shift
    "$perf_server_bin" --sip-listen 127.0.0.1:0 --mrcp-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 "$@" \
        >"$dir/addrs" 2>"$dir/server.log" &
    server=$!
    for _ in $(seq 200); do
        grep -qs '^mrcp tcp' "$dir/addrs" && break
        kill -0 "$server" 2>/dev/null || { echo "error: mrcp-server exited during start-up" >&2; cat "$dir/server.log" >&2; return 1; }
        sleep 0.1
    done
    sip=$(awk '$1 == "sip" && $2 == "UDP" { print $3 }' "$dir/addrs")
    http=$(awk '$1 == "http" { print $3 }' "$dir/addrs")
}

perf_stop_server() {
    if [ -n "${server:-}" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
        server=
    fi
}

# perf_metric NAME: one value from the server's /metrics.
perf_metric() {
    curl -sf --max-time 5 "http://$http/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

# perf_cpu_ticks PID: user+system clock ticks of a process.
perf_cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

perf_free_port() {
    python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 10000))
}
