#!/usr/bin/env bash
# Issue 15: SRT into asfcast, both ways, encrypted. (1) asfcast listens (source.mode listener) and
# ffmpeg calls it with H.264 + AAC in MPEG-TS, as OBS or a hardware encoder would; the slate is on
# air until the sender connects. (2) asfcast calls (srt://host:port) GStreamer's srtsink listening.
# Each run goes to pull and archive; ffmpeg decodes every frame of both without an error and
# without a gap in the time line; VLC decodes the archive (file://) and the live stream (mmsh://,
# its own client), its pictures bit for bit ffmpeg's and its frame counts ffprobe's (see
# check_vlc_file and check_vlc_live); the passphrase appears in no log line.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
source "$(dirname "$0")/network_lib.sh"
ffmpeg -hide_banner -protocols 2>/dev/null | grep -qx "  srt" || fail "this ffmpeg has no SRT protocol"

dir=$WORK/srt-relay
rm -rf "$dir"
mkdir -p "$dir"
secret=srt-secret-4242
senders=()
trap 'for p in "${senders[@]}"; do kill "$p" 2>/dev/null || true; done; stop_asfcast "$dir/pid"' EXIT

# Runs asfcast for DURATION seconds with pull and archive (name.asf, name-pulled.asf by ffmpeg,
# name-vlc.* by VLC); wait_relay waits for it and its two clients.
relay() {
    local name=$1 duration=$2
    shift 2
    local port pid client
    port=$(start_asfcast "$dir/$name.log" "$dir/pid" --duration "$duration" --archive "$dir/$name.asf" --pull 127.0.0.1:0 "$@")
    timeout 60 ffmpeg -nostdin -v error -y -i "mmsh://127.0.0.1:$port/" -c copy -f asf "$dir/$name-pulled.asf" \
        > "$dir/$name-pull.log" 2>&1 &
    client=$!
    echo "$client" > "$dir/client"
    vlc_decode "mmsh://127.0.0.1:$port/" "$dir/$name-vlc" 60 > "$dir/$name-vlc.counts" &
    echo $! > "$dir/vlc"
}
wait_relay() {
    local name=$1 pid
    pid=$(cat "$dir/pid")
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && fail "$name: asfcast did not end after --duration"
    wait "$(cat "$dir/client")" || true
    wait "$(cat "$dir/vlc")" || fail "$name: VLC did not decode the live stream to its end (log $dir/$name-vlc.log)"
    grep -q " done: " "$dir/$name.log" || { tail -20 "$dir/$name.log" >&2; fail "$name: asfcast did not finish cleanly"; }
    local pull_err
    pull_err=$(grep -v -E "^Stream ended!$|Stream ends prematurely|^Read data packet header failed!$|^Recv other type packet -5$|Invalid data found when processing input$" \
               "$dir/$name-pull.log" || true)
    [ -z "$pull_err" ] || fail "$name: the live client reported: $pull_err"
    assert_not_logged "$secret" "$dir/$name.log"
}

# (1) asfcast listens; ffmpeg calls 2 s later (the slate is on air until then).
srt_port=$(free_port)
write_network_preset "$dir/listener.yaml" "{type: srt, mode: listener, address: 127.0.0.1, port: $srt_port,
         passphrase: $secret, latency_ms: 120}"
relay listener 12 --preset "$dir/listener.yaml"
sleep 2
timeout 40 ffmpeg -nostdin -v error -re -f lavfi -i testsrc2=size=640x360:rate=30 \
    -f lavfi -i sine=frequency=440:sample_rate=48000 -t 30 -c:v libx264 -preset ultrafast -tune zerolatency -g 30 \
    -pix_fmt yuv420p -c:a aac -b:a 128k -f mpegts \
    "srt://127.0.0.1:$srt_port?mode=caller&passphrase=$secret&latency=120000" > "$dir/ffmpeg-sender.log" 2>&1 &
senders+=($!)
wait_relay listener
grep -q "video timestamps are .* away from the system clock" "$dir/listener.log" && fail "listener: timestamps off our clock"
slate=$(sed -n 's/.*source: stopped; \([0-9]*\) held\/slate frames.*/\1/p' "$dir/listener.log")
[ -n "$slate" ] || fail "listener: no source summary: $(grep -E 'capture:|source:' "$dir/listener.log" | tail -5)"
# The slate covers the wait for the caller (about 2 s = 60 frames), and only that.
[ "$slate" -ge 30 ] && [ "$slate" -le 120 ] || fail "listener: $slate slate frames where about 60 (the 2 s before the caller)"
note "listener: $slate slate frames before ffmpeg called"
check_timeline "$dir/listener.asf" 0.070 "SRT listener (ffmpeg caller): archive"
check_timeline "$dir/listener-pulled.asf" 0.070 "SRT listener (ffmpeg caller): pull capture"
check_vlc_file "$dir/listener.asf" "SRT listener (ffmpeg caller): archive (VLC)"
check_vlc_live "$dir/listener-vlc" "$dir/listener.asf" "SRT listener (ffmpeg caller): pull (VLC mmsh)"

# (2) GStreamer's srtsink listens; asfcast calls it (--input srt://..., the passphrase from the preset).
srt_port=$(free_port)
timeout 40 gst-launch-1.0 -q videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=30/1 ! \
    timeoverlay ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! h264parse ! mpegtsmux name=m alignment=7 ! \
    srtsink uri="srt://127.0.0.1:$srt_port?mode=listener" passphrase=$secret wait-for-connection=false \
    audiotestsrc is-live=true ! audio/x-raw,rate=48000,channels=2 ! avenc_aac ! aacparse ! m. > "$dir/gst-sender.log" 2>&1 &
senders+=($!)
sleep 1
write_network_preset "$dir/caller.yaml" "{type: srt, mode: caller, url: \"srt://127.0.0.1:1\", passphrase: $secret, streamid: asfcast-test}"
relay caller 10 --preset "$dir/caller.yaml" --input "srt://127.0.0.1:$srt_port"
wait_relay caller
grep -q "capturing: uridecodebin uri=srt://127.0.0.1:$srt_port?mode=caller" "$dir/caller.log" || fail "caller: --input not used"
# Never lost; the slate only fills the wait for the sender's first key frame (1 s apart) while its
# audio already flows.
held=$(sed -n 's/.*source: stopped; \([0-9]*\) held\/slate frames.*/\1/p' "$dir/caller.log")
[ -n "$held" ] && [ "$held" -le 45 ] ||
    fail "caller: the sender was not live throughout: $(grep -E 'capture:|source:' "$dir/caller.log" | tail -5)"
note "caller: $held slate frames before the first key frame"
check_timeline "$dir/caller.asf" 0.070 "SRT caller (gst srtsink listener): archive"
check_timeline "$dir/caller-pulled.asf" 0.070 "SRT caller (gst srtsink listener): pull capture"
check_vlc_file "$dir/caller.asf" "SRT caller (gst srtsink listener): archive (VLC)"
check_vlc_live "$dir/caller-vlc" "$dir/caller.asf" "SRT caller (gst srtsink listener): pull (VLC mmsh)"
# (3) The other codecs MPEG-TS senders use: HEVC video and AC-3 audio (unencrypted listener).
srt_port=$(free_port)
write_network_preset "$dir/hevc.yaml" "{type: srt, mode: listener, address: 127.0.0.1, port: $srt_port}"
relay hevc 8 --preset "$dir/hevc.yaml"
sleep 1
timeout 40 ffmpeg -nostdin -v error -re -f lavfi -i testsrc2=size=640x360:rate=30 \
    -f lavfi -i sine=frequency=440:sample_rate=48000 -t 30 -c:v libx265 -preset ultrafast \
    -x265-params log-level=error:keyint=30 -pix_fmt yuv420p -c:a ac3 -f mpegts "srt://127.0.0.1:$srt_port?mode=caller" \
    > "$dir/ffmpeg-hevc.log" 2>&1 &
senders+=($!)
wait_relay hevc
grep -q "has no decodable" "$dir/hevc.log" && fail "hevc: a stream was not decoded: $(grep 'no decodable' "$dir/hevc.log")"
check_timeline "$dir/hevc.asf" 0.070 "SRT listener, HEVC + AC-3 in MPEG-TS: archive"
check_vlc_file "$dir/hevc.asf" "SRT listener, HEVC + AC-3 in MPEG-TS: archive (VLC)"
check_vlc_live "$dir/hevc-vlc" "$dir/hevc.asf" "SRT listener, HEVC + AC-3 in MPEG-TS: pull (VLC mmsh)"
# (4) video.codec copy from an SRT sender (ffmpeg, x264, MPEG-TS): the H.264 in the archive is the
# sender's, byte for byte (the tee writes what x264 made), after the slate shown until it connects;
# every frame decodes in ffmpeg and VLC.
# copy_listener NAME DURATION: asfcast with video.codec copy on a new SRT listener port (srt_port),
# archiving to NAME.asf, in the background (copy_run); the sender may call a second later.
copy_listener() {
    srt_port=$(free_port)
    write_network_preset "$dir/$1.yaml" "{type: srt, mode: listener, address: 127.0.0.1, port: $srt_port}"
    sed -i 's/^video: {/video: {codec: copy, /' "$dir/$1.yaml"
    timeout 40 "$ASFCAST" run --preset "$dir/$1.yaml" --duration "$2" --archive "$dir/$1.asf" --pull off \
        > "$dir/$1.log" 2>&1 &
    copy_run=$!
    sleep 1
}
copy_listener copy 8
timeout 30 ffmpeg -nostdin -v error -re -f lavfi -i testsrc2=size=640x360:rate=30 \
    -f lavfi -i sine=frequency=440:sample_rate=48000 -t 12 -map 0:v -map 1:a -c:v libx264 -preset ultrafast -g 30 \
    -bf 0 -pix_fmt yuv420p -c:a aac -f tee "[f=mpegts]srt://127.0.0.1:$srt_port?mode=caller|[select=v:f=h264]$dir/copy-sent.h264" \
    > "$dir/ffmpeg-copy.log" 2>&1 &
senders+=($!)
wait "$copy_run" || { tail -20 "$dir/copy.log" >&2; fail "copy: asfcast failed"; }
check_timeline "$dir/copy.asf" 0.070 "SRT listener, video.codec copy: archive"
check_vlc_file "$dir/copy.asf" "SRT listener, video.codec copy: archive (VLC)"
ffmpeg -nostdin -v error -i "$dir/copy.asf" -map 0:v -c copy -f h264 "$dir/copy-carried.h264" || fail "copy: cannot take the H.264 out"
sleep 4  # the sender ends (-t 12) and closes its dump
cmp_out=$(python3 "$(dirname "$0")/nal_runs.py" --from-first-match "$dir/copy-sent.h264" "$dir/copy-carried.h264") ||
    fail "copy: the H.264 carried is not the sender's: $cmp_out"
note "SRT listener, video.codec copy: $cmp_out; $(grep 'video copy: ' "$dir/copy.log" | sed 's/.*video copy: //')"

# (5) video.codec copy carries H.264 only: an HEVC sender is refused with a message naming its codec
# and what to do; the broadcast stays on the slate (the sender may be reconfigured) and decodes.
copy_listener hevc-copy 6
timeout 20 ffmpeg -nostdin -v error -re -f lavfi -i testsrc2=size=640x360:rate=30 -t 8 -c:v libx265 -preset ultrafast \
    -x265-params log-level=error:keyint=30 -pix_fmt yuv420p -f mpegts "srt://127.0.0.1:$srt_port?mode=caller" \
    > "$dir/ffmpeg-hevc-copy.log" 2>&1 &
senders+=($!)
wait "$copy_run" || { tail -20 "$dir/hevc-copy.log" >&2; fail "hevc-copy: asfcast failed"; }
grep -q "srt listener 127.0.0.1:$srt_port: .*video.codec copy takes H.264 only, and the source sends H.265 (HEVC) video: set video.codec to h264 to re-encode it" \
    "$dir/hevc-copy.log" || fail "hevc-copy: no clear refusal of HEVC: $(grep -E 'warning|error' "$dir/hevc-copy.log" | head -5)"
ffmpeg_decodes_clean "$dir/hevc-copy.asf"
note "hevc-copy: $(grep -m1 -o 'video.codec copy takes H.264 only.*' "$dir/hevc-copy.log" | cut -c1-200); the slate stays on air ($(count_frames "$dir/hevc-copy.asf" v) frames decoded)"
note "SRT listener and caller (H.264/AAC and HEVC/AC-3) relayed to pull and archive: OK"
