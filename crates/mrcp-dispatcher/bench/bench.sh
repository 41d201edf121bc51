#!/usr/bin/env bash
# Calls per second through mrcp-dispatcher and through Kamailio, same run, same backends:
# two SIPp stand-in MRCP backends (uas_mrcp.xml, from shared/reference/sip-balancers.md §5.3),
# SIPp UAC with full INVITE/100/200/ACK/BYE/200 calls over UDP (uac_mrcp.xml).
#
#   cargo build --release -p mrcp-dispatcher
#   crates/mrcp-dispatcher/bench/bench.sh "1000 2000 3000" 10
#
# Needs the Debian packages sip-tester (sipp) and kamailio. Every process is started here and
# stopped by its PID.
set -u
RATES=${1:-"1000 2000"}
SECONDS_PER_STEP=${2:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
DISPATCHER=${DISPATCHER:-$ROOT/target/release/mrcp-dispatcher}
WORK=$(mktemp -d /tmp/mrcp-dispatcher-bench.XXXXXX)
mkdir -p "$WORK/run"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

A=127.0.0.1:15080; B=127.0.0.1:15081; KAM=127.0.0.1:15070; DISP=127.0.0.1:15071
sipp -sf "$HERE/uas_mrcp.xml" -i 127.0.0.1 -p 15080 -mi 127.0.0.1  -nostdin > /dev/null 2>&1 &
PIDS+=($!)
sipp -sf "$HERE/uas_mrcp.xml" -i 127.0.0.1 -p 15081 -mi 127.0.0.1  -nostdin > /dev/null 2>&1 &
PIDS+=($!)
sed "s/127.0.0.1:5070/$KAM/g" "$ROOT/examples/kamailio/kamailio.cfg" > "$WORK/kamailio.cfg"
sed "s/127.0.0.1:5080/$A/; s/127.0.0.1:5081/$B/" "$ROOT/examples/kamailio/dispatcher.list" > "$WORK/dispatcher.list"
kamailio -f "$WORK/kamailio.cfg" -DD -E -m 1024 -M 16 -x tlsf -Y "$WORK/run" -A QUIET \
  -A "DSLIST=\"$WORK/dispatcher.list\"" -A "CTLSOCK=\"unix:$WORK/run/ctl\"" > "$WORK/kamailio.log" 2>&1 &
PIDS+=($!)
KAM_PID=$!
RUST_LOG=warn "$DISPATCHER" --listen "$DISP" --destination "sip:$A" --destination "sip:$B" \
  --probe-interval 2 ${DISPATCHER_ARGS:-} > "$WORK/dispatcher.out" 2>&1 &
PIDS+=($!)
DISP_PID=$!
sleep 3

cpu_ticks() { # utime+stime of a process and its children
  for p in "$1" $(pgrep -P "$1"); do cat "/proc/$p/stat"; done | awk '{s += $14 + $15} END {print s}'
}

run() { # run NAME ADDR PID RATE
  local name=$1 addr=$2 pid=$3 rate=$4 port=$((16000 + RANDOM % 2000))
  local c0; c0=$(cpu_ticks "$pid")
  timeout $((SECONDS_PER_STEP + 60)) sipp "$addr" -sf "$HERE/uac_mrcp.xml" -i 127.0.0.1 -p "$port" \
    -mi 127.0.0.1 -nostdin -r "$rate" -m $((rate * SECONDS_PER_STEP)) -l $((rate * 4 + 50)) -d 0 \
    -recv_timeout 8000 -timeout 50s -trace_stat -stf "$WORK/${name}_$rate.csv" -fd 1 > /dev/null 2>&1
  local rc=$? c1; c1=$(cpu_ticks "$pid")
  python3 - "$WORK/${name}_$rate.csv" "$name" "$rate" "$rc" "$((c1 - c0))" "$(getconf CLK_TCK)" <<'PY'
import sys
path, name, rate, rc, ticks, hz = sys.argv[1:]
rows = [l.rstrip(";\n").split(";") for l in open(path) if l.strip()]
head, last = rows[0], rows[-1]
col = lambda n: int(last[head.index(n)])
ok, failed = col("SuccessfulCall(C)"), col("FailedCall(C)")
cpu = int(ticks) / int(hz)
per_call = f"{cpu * 1000 / ok:.3f} ms" if ok else "-"
print(f"{name:10} rate {rate:>5}/s  ok {ok:>6}  failed {failed:>5}  sipp exit {rc}  balancer CPU {cpu:.2f} s ({per_call}/call)")
PY
  sleep 4
}

for R in $RATES; do
  run dispatcher "$DISP" "$DISP_PID" "$R"
  run kamailio "$KAM" "$KAM_PID" "$R"
done
