# Helpers for the network source tests (issue 15; sourced after lib.sh and pull_lib.sh).
RTSP_CAMERA=${RTSP_CAMERA:?RTSP_CAMERA must point at the test camera (tests/interop/rtsp_camera)}

# A free TCP/UDP port on the loopback (asked from the kernel, then released).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts the test camera on PORT (extra arguments: --user U --password P ...), waits until it
# serves, prints its pid. Usage: start_camera LOG PORT [ARGS...]
start_camera() {
    local log=$1 port=$2
    shift 2
    "$RTSP_CAMERA" --port "$port" --seconds 120 "$@" > "$log" 2>&1 &
    local pid=$! i
    for i in $(seq 1 50); do
        grep -q "^ready " "$log" && { echo "$pid"; return 0; }
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "the test camera exited"; }
        sleep 0.1
    done
    fail "the test camera did not start within 5 s: $(cat "$log")"
}

# The preset of the network tests: 640x360 like the senders, light enough for two cores.
write_network_preset() {
    local file=$1 source=$2
    cat > "$file" <<YAML
base: default
source: $source
video: {width: 640, height: 360, bitrate_kbps: 800, max_bitrate_kbps: 800, vbv_buffer_kbit: 800,
        keyframe_interval_s: 1, x264_preset: ultrafast}
audio: {codec: wma2, bitrate_kbps: 96}
YAML
}

# Checks FILE: ffmpeg decodes every frame without an error line; the video frames ffmpeg decodes
# are within 3% of its duration x 30 fps; video times step by one frame (no gap above MAX_GAP_S
# seconds), audio times by one WMA2 frame. Prints a summary line.
check_timeline() {
    local f=$1 max_gap=$2 what=$3
    ffmpeg_decodes_clean "$f"
    local vt=$f.vt at=$f.at
    timeout 60 ffprobe -v error -select_streams v:0 -show_entries frame=best_effort_timestamp_time \
        -of default=nw=1:nk=1 "$f" | grep -v N/A > "$vt"
    timeout 60 ffprobe -v error -select_streams a:0 -show_entries frame=best_effort_timestamp_time \
        -of default=nw=1:nk=1 "$f" | grep -v N/A > "$at"
    local frames span gap agap
    frames=$(wc -l < "$vt")
    span=$(awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%.3f", b - a + 1 / 30 }' "$vt")
    gap=$(awk 'NR > 1 { d = $1 - p; if (d > m) m = d; if (d <= 0) back = 1 } { p = $1 } END { if (back) print "back"; else printf "%.3f", m }' "$vt")
    agap=$(awk 'NR > 1 { d = $1 - p; if (d > m) m = d; if (d < 0.045) bad = 1 } { p = $1 } END { if (bad) print "short"; else printf "%.3f", m }' "$at")
    note "$what: $frames video frames over $span s (expected $(awk -v s="$span" 'BEGIN { printf "%.0f", s * 30 }') at 30 fps), largest video step $gap s, largest audio step $agap s"
    [ "$gap" != back ] || fail "$what: video time steps back"
    [ "$agap" != short ] || fail "$what: audio frames overlap"
    awk -v g="$gap" -v m="$max_gap" 'BEGIN { exit !(g <= m) }' || fail "$what: a video gap of $gap s (bound $max_gap s)"
    awk -v g="$agap" 'BEGIN { exit !(g <= 0.048) }' || fail "$what: an audio gap of $agap s (a WMA2 frame is 0.046 s)"
    awk -v n="$frames" -v s="$span" 'BEGIN { e = s * 30; d = n - e; if (d < 0) d = -d; exit !(d <= 0.03 * e + 1) }' ||
        fail "$what: $frames video frames where $span s at 30 fps makes $(awk -v s="$span" 'BEGIN { printf "%.0f", s * 30 }')"
}

# The password or passphrase must appear in no log line.
assert_not_logged() {
    local secret=$1 log
    shift
    for log in "$@"; do
        grep -qF -- "$secret" "$log" && fail "the secret appears in $log: $(grep -F -- "$secret" "$log" | head -2)"
    done
    return 0
}
