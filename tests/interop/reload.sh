#!/usr/bin/env bash
# Reload without a break (issue 14, point 5), on a real `asfcast run --preset FILE` with a pull
# client (ffmpeg's mmsh client, recording from the start) and one strict MS-WMHTTP receiver:
#  - SIGHUP with a second push target and a new pull limit: the second receiver starts getting the
#    stream; both changes are logged as applied; a changed video bit rate is named as needing a
#    restart and the encoders go on;
#  - SIGHUP with an invalid preset: refused with the error, nothing changes (both receivers go on);
#  - the control API's reload action: 422 with the error for the invalid preset, 200 once valid;
#  - throughout: the pull client stays connected and ffmpeg decodes its whole recording without
#    an error; both receivers see a valid session to the end ($E) and their recordings decode.
source "$(dirname "$0")/lib.sh"
RECEIVER=${STRICT_RECEIVER:?STRICT_RECEIVER must point at the strict receiver}
W=$WORK/reload
rm -rf "$W"
mkdir -p "$W"
DURATION=22

declare -a rx_pid
for r in 1 2; do
    "$RECEIVER" --out "$W/rx$r.asf" --seconds 60 > "$W/rx$r.log" 2>&1 &
    rx_pid[$r]=$!
done
receiver_port() {
    local port="" i
    for i in $(seq 1 50); do
        port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$W/rx$1.log")
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || fail "receiver $1 did not start"
    echo "$port"
}
p1=$(receiver_port 1)
p2=$(receiver_port 2)

write_preset() {  # write_preset TARGETS MAX_CLIENTS VIDEO_KBPS [EXTRA]
    cat > "$W/job.yaml.new" <<YAML
name: reload-test
base: default
video: {width: 320, height: 240, bitrate_kbps: $3, max_bitrate_kbps: $3, vbv_buffer_kbit: $3, x264_preset: ultrafast, keyframe_interval_s: 1}
audio: {bitrate_kbps: 64}
asf: {packet_size: 4096}
outputs:
  pull: {max_clients: $2}
  push:
    targets: [$1]
${4:-}
YAML
    mv "$W/job.yaml.new" "$W/job.yaml"  # a reader never sees half a file
}
write_preset "{url: \"http://127.0.0.1:$p1/live\"}" 100 400
log=$W/asfcast.log
setsid "$ASFCAST" --log-level info run --preset "$W/job.yaml" --pull 127.0.0.1:0 --control 127.0.0.1:0 \
    --duration "$DURATION" > "$log" 2>&1 < /dev/null &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; kill ${rx_pid[1]} ${rx_pid[2]} 2>/dev/null' EXIT
log_value() {  # log_value SED_EXPR: bounded wait for a value in the log
    local v="" i
    for i in $(seq 1 100); do
        v=$(sed -n "$1" "$log" | head -1)
        [ -n "$v" ] && break
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "asfcast exited early"; }
        sleep 0.1
    done
    [ -n "$v" ] || { cat "$log" >&2; fail "not in the log: $1"; }
    echo "$v"
}
pull_port=$(log_value 's|.*serving mmsh://127\.0\.0\.1:\([0-9]*\)/.*|\1|p')
ctl_port=$(log_value 's|.*control API and status page on http://[^ ]*:\([0-9]*\)/.*|\1|p')
timeout 60 ffmpeg -nostdin -v warning -i "mmsh://127.0.0.1:$pull_port/" -c copy -f asf "$W/pull.asf" > "$W/ffmpeg.log" 2>&1 &
ff=$!
wait_log() {  # wait_log TEXT: bounded (10 s) wait for a fixed string in the log
    local i
    for i in $(seq 1 100); do
        grep -qF -- "$1" "$log" && return 0
        sleep 0.1
    done
    tail -20 "$log" >&2
    fail "not in the log within 10 s: $1"
}
sleep 4
# Packets asfcast has sent to the target at URL (the control API's status).
sent_to() {
    curl -s -m 10 "http://127.0.0.1:$ctl_port/api/status" |
        jq -r --arg u "$1" '[.push_targets[] | select(.url == $u) | .packets_sent] | add // 0'
}

# ---- SIGHUP: a second target, a new pull limit (live), a new video bit rate (restart) ----
write_preset "{url: \"http://127.0.0.1:$p1/live\"}, {url: \"http://127.0.0.1:$p2/live\"}" 50 500
kill -HUP "$pid"
wait_log "reload: pushing to http://127.0.0.1:$p2/live"
wait_log "reload: outputs.push.targets changed: applied"
wait_log "reload: outputs.pull.max_clients changed: applied"
wait_log "reload: video.bitrate_kbps changed: needs a restart"
grep -q "push to http://127.0.0.1:$p1/live removed" "$log" && fail "the first target was removed by the reload"
sleep 3
rx2_after=$(sent_to "http://127.0.0.1:$p2/live")
[ "$rx2_after" -gt 20 ] || fail "the target added by the reload got $rx2_after packets in 3 s"
note "reload 1: target 2 streaming ($rx2_after packets in 3 s), max_clients applied, bit rate named"

# ---- SIGHUP with an invalid preset: refused, nothing changes ----
write_preset "{url: \"http://127.0.0.1:$p1/live\"}" 50 500 "metadata: {nosuchkey: 1}"
kill -HUP "$pid"
wait_log "reload refused:"
grep "reload refused:" "$log" | grep -q "nosuchkey" || fail "the refusal does not name the bad key: $(grep 'reload refused' "$log")"
grep -q "push to http://127.0.0.1:$p2/live removed" "$log" && fail "a refused reload removed a target"
sleep 2
rx2_later=$(sent_to "http://127.0.0.1:$p2/live")
[ "$rx2_later" -gt "$rx2_after" ] || fail "target 2 stopped after a refused reload ($rx2_later packets)"
note "reload 2 (invalid): refused, naming the key; both targets go on"

# ---- The control API's reload action ----
code=$(curl -s -m 20 -o "$W/ctl.body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
       --data-binary '{"action":"reload"}' "http://127.0.0.1:$ctl_port/api/actions")
[ "$code" = 422 ] && grep -q "nosuchkey" "$W/ctl.body" || fail "API reload of an invalid preset: $code $(cat "$W/ctl.body")"
write_preset "{url: \"http://127.0.0.1:$p1/live\"}, {url: \"http://127.0.0.1:$p2/live\"}" 60 500
code=$(curl -s -m 20 -o "$W/ctl.body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
       --data-binary '{"action":"reload"}' "http://127.0.0.1:$ctl_port/api/actions")
[ "$code" = 200 ] && grep -q "outputs.pull.max_clients" "$W/ctl.body" || fail "API reload: $code $(cat "$W/ctl.body")"
note "control API reload: 422 for the invalid preset, then $(cat "$W/ctl.body")"

# ---- The end: every output saw the whole broadcast ----
rc=""
for _ in $(seq 1 400); do
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid"
        rc=$?
        break
    fi
    sleep 0.1
done
[ -n "$rc" ] || fail "asfcast did not end after --duration $DURATION"
[ "$rc" = 0 ] || { tail -20 "$log" >&2; fail "asfcast exit $rc"; }
wait "$ff" || { cat "$W/ffmpeg.log" >&2; fail "ffmpeg's mmsh client exit $? (dropped by a reload?)"; }
for r in 1 2; do
    wait "${rx_pid[$r]}" || { cat "$W/rx$r.log" >&2; fail "push receiver $r saw violations or no \$E"; }
done
trap - EXIT
ffmpeg_decodes_clean "$W/pull.asf"
pull_v=$(count_frames "$W/pull.asf" v)
# The client joined at start: about DURATION s at 30 frames a second, from its first key frame.
[ "$pull_v" -ge $(( (DURATION - 2) * 30 )) ] || fail "the pull client decoded only $pull_v video frames in $DURATION s"
ffmpeg_decodes_clean "$W/rx1.asf"
ffmpeg_decodes_clean "$W/rx2.asf"
rx1_v=$(count_frames "$W/rx1.asf" v)
rx2_v=$(count_frames "$W/rx2.asf" v)
[ "$rx2_v" -gt 60 ] && [ "$rx2_v" -lt "$rx1_v" ] || fail "receiver frames: first $rx1_v, added by reload $rx2_v"
note "pull client stayed connected: $pull_v video frames decoded; push: first target $rx1_v, added by reload $rx2_v"
