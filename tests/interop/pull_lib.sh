# Helpers for the pull (MS-WMSP) interop tests (sourced after lib.sh). The fixture pull_start.sh
# runs one live `asfcast run` serving mmsh://127.0.0.1:PORT/ for every pull test.
PULL_LOG=$WORK/pull-live.log
PULL_PID_FILE=$WORK/pull-live.pid
PULL_PORT_FILE=$WORK/pull-live.port

# A light live preset so that players decoding next to the encoder keep up on two cores.
write_pull_preset() {
    cat > "$1" <<YAML
name: pull-live
base: default
video: {width: 640, height: 360, bitrate_kbps: 800, max_bitrate_kbps: 800, vbv_buffer_kbit: 800,
        keyframe_interval_s: 1, x264_preset: ultrafast}
audio: {codec: wma2, bitrate_kbps: 96}
metadata: {title: pull interop}
YAML
}

# Starts `asfcast run` in the background with the given arguments, waits for its pull port and
# prints it. Usage: start_asfcast LOG PIDFILE ARGS...
start_asfcast() {
    local log=$1 pidfile=$2
    shift 2
    setsid "$ASFCAST" --log-level debug run "$@" > "$log" 2>&1 < /dev/null &
    echo $! > "$pidfile"
    local port="" i
    for i in $(seq 1 100); do
        port=$(sed -n 's|.*serving mmsh://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$log" | head -1)
        [ -n "$port" ] && break
        kill -0 "$(cat "$pidfile")" 2>/dev/null || { cat "$log" >&2; fail "asfcast exited before serving"; }
        sleep 0.1
    done
    [ -n "$port" ] || { cat "$log" >&2; fail "asfcast did not report its pull port within 10 s"; }
    echo "$port"
}

# Stops an asfcast started by start_asfcast (SIGTERM, bounded wait, then SIGKILL).
stop_asfcast() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
}

pull_url() { echo "mmsh://127.0.0.1:$(cat "$PULL_PORT_FILE")/"; }

require_pull_server() {
    [ -s "$PULL_PORT_FILE" ] || fail "the pull fixture is not running (pull_start failed?)"
    kill -0 "$(cat "$PULL_PID_FILE")" 2>/dev/null || { tail -20 "$PULL_LOG" >&2; fail "the pull fixture's asfcast died"; }
}

# Bytes the server sent on its connections closed so far with this peer log line pattern.
bytes_sent_to_closed() { sed -n 's/.*closed after \([0-9]*\) bytes.*/\1/p' "$1" | sort -n | tail -1; }
