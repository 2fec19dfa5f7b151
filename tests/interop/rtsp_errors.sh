#!/usr/bin/env bash
# Issue 15: the operator's errors with network sources. Wrong credentials (the camera answers 401)
# and an unreachable camera are each logged once, by name, with what to check; the broadcast goes
# on with the slate (the archive decodes) and asfcast keeps trying. `asfcast probe` says the same
# and exits 1. Bad preset keys are refused before anything starts. No password in any output.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
source "$(dirname "$0")/network_lib.sh"

dir=$WORK/rtsp-errors
rm -rf "$dir"
mkdir -p "$dir"
cam_port=$(free_port)
cam=$(start_camera "$dir/camera.log" "$cam_port" --user viewer --password right-one)
trap 'kill $cam 2>/dev/null || true' EXIT
dead_port=$(free_port)   # nothing listens there

# Runs a 6 s broadcast of SOURCE (a preset source mapping) to an archive; prints the log path.
run_with() {
    local name=$1 source=$2
    write_network_preset "$dir/$name.yaml" "$source"
    timeout 60 "$ASFCAST" --log-level info run --preset "$dir/$name.yaml" --duration 6 --archive "$dir/$name.asf" \
        --pull off > "$dir/$name.log" 2>&1 || { tail -20 "$dir/$name.log" >&2; fail "$name: asfcast exit $?"; }
    grep -q "source: stopped, lost 1x, back 0x" "$dir/$name.log" || fail "$name: no slate summary: $(tail -3 "$dir/$name.log")"
    ffmpeg_decodes_clean "$dir/$name.asf"
    local frames
    frames=$(count_frames "$dir/$name.asf" v)
    [ "$frames" -ge 170 ] || fail "$name: the slate broadcast has $frames video frames in 6 s"
    note "$name: slate on air, $frames frames decoded"
}

run_with wrong_password "{type: rtsp, url: \"rtsp://127.0.0.1:$cam_port/cam\", user: viewer, password: wrong-one,
        reattach_interval_ms: 500}"
grep -q "rtsp://127.0.0.1:$cam_port/cam: the camera refused the credentials (401 Unauthorized): check source.user and source.password or source.password_file" \
    "$dir/wrong_password.log" || fail "no clear 401 error: $(grep capture: "$dir/wrong_password.log" | tail -3)"
n=$(grep -c -E "(warning|error) .*refused the credentials" "$dir/wrong_password.log" || true)
[ "$n" -le 2 ] || fail "the 401 is logged $n times in 6 s (once per distinct reason expected)"
attempts=$(grep -c "the source started again" "$dir/wrong_password.log" || true)
[ "$attempts" -ge 2 ] || fail "asfcast did not keep trying ($attempts attempts)"
assert_not_logged "wrong-one" "$dir/wrong_password.log"
note "wrong password: $(grep -m1 'refused the credentials' "$dir/wrong_password.log" | cut -c25-200); $attempts more attempts"

# Credentials in the URL itself are redacted too.
run_with url_credentials "{type: rtsp, url: \"rtsp://viewer:wrong-two@127.0.0.1:$cam_port/cam\"}"
grep -q "rtsp://viewer:\*\*\*@127.0.0.1:$cam_port/cam: the camera refused the credentials" "$dir/url_credentials.log" ||
    fail "no redacted 401 error: $(grep capture: "$dir/url_credentials.log" | tail -3)"
assert_not_logged "wrong-two" "$dir/url_credentials.log"

run_with unreachable "{type: rtsp, url: \"rtsp://127.0.0.1:$dead_port/cam\", user: viewer, password: right-one}"
grep -q "rtsp://127.0.0.1:$dead_port/cam: cannot connect to 127.0.0.1:$dead_port: check that the camera is on and reachable, the host and port in source.url, and firewalls" \
    "$dir/unreachable.log" || fail "no clear unreachable error: $(grep capture: "$dir/unreachable.log" | tail -3)"
assert_not_logged "right-one" "$dir/unreachable.log"

# probe: the same words, exit 1.
out=$(timeout 30 "$ASFCAST" probe --timeout 5 "rtsp://viewer:wrong-three@127.0.0.1:$cam_port/cam" 2>&1) && fail "probe with a wrong password succeeded"
grep -q "the camera refused the credentials (401 Unauthorized)" <<<"$out" || fail "probe: no clear 401: $out"
grep -qF "wrong-three" <<<"$out" && fail "probe printed the password"
out=$(timeout 30 "$ASFCAST" probe --timeout 5 "rtsp://127.0.0.1:$dead_port/cam" 2>&1) && fail "probe of a dead port succeeded"
grep -q "cannot connect to 127.0.0.1:$dead_port" <<<"$out" || fail "probe: no clear unreachable error: $out"
out=$(timeout 30 "$ASFCAST" probe --timeout 2 "srt://127.0.0.1:$dead_port?mode=listener" 2>&1) && fail "probe of a silent listener succeeded"
grep -q "nothing decodable within 2 s" <<<"$out" || fail "probe: no clear timeout: $out"

# Preset errors name the key.
bad() {
    write_network_preset "$dir/bad.yaml" "$1"
    out=$(timeout 20 "$ASFCAST" run --preset "$dir/bad.yaml" --duration 1 --pull off 2>&1) && fail "accepted: $1"
    grep -q "$2" <<<"$out" || fail "preset $1: expected '$2', got: $out"
}
bad "{type: rtsp}" "source.url.*required when source.type is rtsp"
bad "{type: rtsp, url: \"rtsp://h/x\", password: x}" "source.user.*required with source.password"
bad "{type: srt, mode: listener}" "source.port.*required when source.type is srt and source.mode is listener"
bad "{type: srt, url: \"srt://h:1\", passphrase: short}" "source.passphrase.*10 to 79 characters"
bad "{type: rtsp, url: \"rtsp://h/x\", transport: sctp}" "source.transport"
bad "{type: rtsp, url: \"rtsp://h/x\", user: u, password_file: $dir/missing.pw}" "source.password_file $dir/missing.pw: No such file"
note "clear errors for wrong credentials, an unreachable camera, probe and bad keys: OK"
