#!/usr/bin/env bash
# One output that stops taking the stream never slows the mux thread or the other outputs
# (issue 10). Three live broadcasts of DURATION seconds, each with one output stalled:
#  (a) the archive on a disk that fills mid-broadcast: a 1 MB tmpfs mounted in a private mount
#      namespace (unshare -m) that only asfcast sees;
#  (b) a push target that answers PushSetup like Windows Media Services and then stops reading the
#      PushStart body (tiny receive buffer, connection held open), in a network namespace of its
#      own (see the end of this file for why);
#  (c) a pull client that sends Play and never reads (tiny receive buffer), and an MS-MSBD client
#      (tests/msbd/msbd_client) that stops reading after its first packets, beside a healthy one.
# In each, a healthy ffmpeg mmsh:// client, the strict push receiver and (in (b), (c)) the archive
# run next to the stalled output, and the test shows:
#  - the mux thread keeps real time: asfcast's STATUS messages (sd_notify, timestamped on arrival)
#    show media time, frames and packets advancing with the wall clock through the whole run, and
#    the final "done:" line has the whole duration and every frame (3 dropped at most);
#  - the healthy outputs are complete and real-time: ffmpeg decodes frames from when it joined to
#    the end with no gap and only its known end-of-stream lines; the strict receiver gets every
#    packet asfcast sent to it, $E and no violation; the archive (b, c) lasts the whole duration;
#  - the stalled output is reported while the broadcast runs: the archive's write failure (the
#    archive on the full disk still reads to its last whole packet; asfcast exits 1 at the end of
#    the whole broadcast), the push target's queue overflow (and its sent + skipped count adds up
#    to no more than the packets made), the pull client's disconnect;
#  - the named threads (asfcast-mux, -archive, -pull, -push) exist; they are printed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
RECEIVER=${STRICT_RECEIVER:?STRICT_RECEIVER must point at the strict receiver}
MSBD=${MSBD_CLIENT:?MSBD_CLIENT must point at the msbd_client binary (tests/msbd)}
PEERS="python3 $(dirname "$0")/output_stall_peers.py"
DURATION=15
FPS=30
W=$WORK/output-stall
if [ -z "${OUTPUT_STALL_NETNS:-}" ]; then
    rm -rf "$W"
    mkdir -p "$W"
fi

# On the way out (a failure mid-broadcast): the asfcast of the broadcast if it still runs, and
# this shell's own background jobs (timeout passes TERM on to ffmpeg).
asfcast_pid=""
cleanup() {
    if [ -n "$asfcast_pid" ] && [ "$(cat /proc/"$asfcast_pid"/comm 2>/dev/null)" = asfcast ]; then
        kill -KILL "$asfcast_pid" 2>/dev/null || true
    fi
    local j
    for j in $(jobs -p); do kill -TERM "$j" 2>/dev/null || true; done
}
trap cleanup EXIT

# Seconds since the epoch with milliseconds, and the time of an asfcast log line.
now_s() { date +%s.%N | cut -c1-14; }
log_time() { awk '{ split($2, t, ":"); printf "%.3f\n", t[1] * 3600 + t[2] * 60 + t[3] }'; }

write_preset() {  # FILE ARCHIVE PUSH_TARGET_URLS...
    local file=$1 archive=$2
    shift 2
    {
        cat <<YAML
name: output-stall
base: default
video: {width: 640, height: 360, bitrate_kbps: 800, max_bitrate_kbps: 800, vbv_buffer_kbit: 800,
        keyframe_interval_s: 1, x264_preset: ultrafast}
audio: {codec: wma2, bitrate_kbps: 96}
metadata: {title: output stall}
outputs:
  archive: "$archive"
  pull: {address: 127.0.0.1, port: 8080, max_lag_ms: 1000, lag_policy: skip}
  push:
    backoff_initial_ms: 500
    backoff_max_ms: 2000
    queue_kbytes: 256
    targets:
YAML
        local u
        for u in "$@"; do echo "      - {url: \"$u\"}"; done
    } > "$file"
}

# broadcast NAME MODE: runs one broadcast with the healthy outputs around the stalled one
# (MODE: disk, push or pull) and checks everything. Files are $W/NAME.*.
broadcast() {
    local name=$1 mode=$2 p=$W/$1
    note "($name) stalled output: $mode; $DURATION s broadcast"

    # The timestamped STATUS listener (asfcast's sd_notify messages).
    $PEERS status "$p.notify" $((DURATION + 40)) > "$p.status" 2> "$p.status.err" &
    local status_pid=$!
    for _ in $(seq 1 50); do [ -S "$p.notify" ] && break; sleep 0.1; done
    [ -S "$p.notify" ] || fail "($name) the STATUS listener did not bind $p.notify"

    # The healthy push target.
    "$RECEIVER" --out "$p.push.asf" --seconds $((DURATION + 40)) > "$p.receiver.log" 2>&1 &
    local rx=$!
    local rx_port=""
    for _ in $(seq 1 50); do
        rx_port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$p.receiver.log" 2>/dev/null || true)
        [ -n "$rx_port" ] && break
        sleep 0.1
    done
    [ -n "$rx_port" ] || fail "($name) the strict receiver did not start"
    local targets=("http://127.0.0.1:$rx_port/live")

    local stalled_port="" stalled_pid=""
    if [ "$mode" = push ]; then
        $PEERS stalled-push "$p.stalled-port" $((DURATION + 40)) > "$p.stalled.log" 2>&1 &
        stalled_pid=$!
        for _ in $(seq 1 50); do [ -s "$p.stalled-port" ] && break; sleep 0.1; done
        stalled_port=$(cat "$p.stalled-port" 2>/dev/null) || fail "($name) the stalled push target did not start"
        targets+=("http://127.0.0.1:$stalled_port/stalled")
    fi

    # The archive: on a 1 MB tmpfs that only asfcast's mount namespace sees, or in $W.
    local archive=$p.wmv disk=$p.disk
    if [ "$mode" = disk ]; then
        mkdir -p "$disk"
        archive=$disk/archive.wmv
    fi
    write_preset "$p.yaml" "$archive" "${targets[@]}"

    local t0
    t0=$(now_s)
    if [ "$mode" = disk ]; then
        # The namespace lives as long as this bash: it mounts, runs asfcast, copies the archive
        # out (the tmpfs goes with the namespace) and reports the archive's size on the tmpfs.
        NOTIFY_SOCKET=$p.notify unshare -m --propagation private bash -c '
            set -u
            mount -t tmpfs -o size=1m,mode=0755 asfcast-stall "$1" || exit 90
            "$2" --log-level debug run --preset "$3" --pull 127.0.0.1:0 --duration "$4" > "$5.log" 2>&1 < /dev/null &
            echo $! > "$5.pid"
            wait $!
            echo $? > "$5.rc"
            df -k "$1" | tail -1 > "$5.df"
            cp "$1/archive.wmv" "$5.wmv" 2>/dev/null || true
        ' ns "$disk" "$ASFCAST" "$p.yaml" "$DURATION" "$p" &
    else
        local extra=()
        [ "$mode" = pull ] && extra=(--msbd 127.0.0.1:0)
        (
            NOTIFY_SOCKET=$p.notify "$ASFCAST" --log-level debug run --preset "$p.yaml" --pull 127.0.0.1:0 \
                "${extra[@]}" --duration "$DURATION" > "$p.log" 2>&1 < /dev/null &
            echo $! > "$p.pid"
            wait $!
            echo $? > "$p.rc"
        ) &
    fi
    local runner=$!
    local pid="" port=""
    for _ in $(seq 1 100); do
        [ -z "$pid" ] && pid=$(cat "$p.pid" 2>/dev/null || true)
        port=$(sed -n 's|.*serving mmsh://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$p.log" 2>/dev/null | head -1 || true)
        [ -n "$port" ] && break
        kill -0 "$runner" 2>/dev/null || { cat "$p.log" >&2 2>/dev/null; fail "($name) asfcast exited before serving"; }
        sleep 0.1
    done
    [ -n "$port" ] && [ -n "$pid" ] || { cat "$p.log" >&2; fail "($name) asfcast did not serve within 10 s"; }
    asfcast_pid=$pid

    # The healthy pull client, and (c) the one that stops reading.
    local ff_t0
    ff_t0=$(now_s)
    timeout $((DURATION + 30)) ffmpeg -nostdin -v error -i "mmsh://127.0.0.1:$port/" -f framecrc -y "$p.framecrc" \
        > "$p.ffmpeg.log" 2>&1 &
    local ff=$!
    local msbd_ok="" msbd_stalled=""
    if [ "$mode" = pull ]; then
        $PEERS stalled-pull "$port" $((DURATION + 8)) > "$p.stalled.log" 2>&1 &
        stalled_pid=$!
        local msbd_port
        msbd_port=$(sed -n 's|.*serving msbd://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$p.log" | head -1)
        [ -n "$msbd_port" ] || fail "($name) asfcast did not report its MSBD port"
        timeout $((DURATION + 30)) "$MSBD" --port "$msbd_port" --out "$p.msbd.asf" --seconds $((DURATION + 25)) \
            > "$p.msbd.log" 2>&1 &
        msbd_ok=$!
        timeout $((DURATION + 30)) "$MSBD" --port "$msbd_port" --stall-after-packets 5 --seconds $((DURATION + 8)) \
            > "$p.msbd-stalled.log" 2>&1 &
        msbd_stalled=$!
    fi

    # The named threads, sampled once while every output runs.
    sleep 3
    local comms threads
    comms=$(cat /proc/"$pid"/task/*/comm 2>/dev/null || true)
    threads=$(sort <<<"$comms" | uniq -c | awk '{ printf "%s%s", sep, $2 ($1 > 1 ? "(" $1 ")" : ""); sep = " " }')
    note "($name) threads of asfcast $pid: $threads"
    local t
    local named=(asfcast-mux asfcast-archive asfcast-pull asfcast-push)
    [ "$mode" = pull ] && named+=(asfcast-msbd)
    for t in "${named[@]}"; do
        grep -qx -- "$t" <<<"$comms" || fail "($name) no thread $t in asfcast (threads: $threads)"
    done
    local rss_early
    rss_early=$(awk '/^VmRSS/ { print $2 }' /proc/"$pid"/status)

    # Memory once more near the end of the stall, then the end of the broadcast.
    sleep $((DURATION - 5))
    local rss_late
    rss_late=$(awk '/^VmRSS/ { print $2 }' /proc/"$pid"/status 2>/dev/null || echo 0)
    local waited=0
    while kill -0 "$runner" 2>/dev/null && [ "$waited" -lt 300 ]; do sleep 0.1; waited=$((waited + 1)); done
    kill -0 "$runner" 2>/dev/null && { tail -20 "$p.log" >&2; fail "($name) asfcast still runs 30 s after the end of a $DURATION s broadcast"; }
    local t_end wall rc
    t_end=$(now_s)
    wall=$(awk -v a="$t0" -v b="$t_end" 'BEGIN { printf "%.1f", b - a }')
    rc=$(cat "$p.rc" 2>/dev/null || echo "?")
    wait "$ff" || true
    local rx_rc=0
    wait "$rx" || rx_rc=$?
    [ -n "$stalled_pid" ] && { kill "$stalled_pid" 2>/dev/null || true; wait "$stalled_pid" 2>/dev/null || true; }
    local msbd_rc=0
    if [ -n "$msbd_ok" ]; then
        wait "$msbd_ok" || msbd_rc=$?
        kill "$msbd_stalled" 2>/dev/null || true
        wait "$msbd_stalled" 2>/dev/null || true
    fi
    kill "$status_pid" 2>/dev/null || true
    wait "$status_pid" 2>/dev/null || true

    # ---- asfcast: ran its course, the mux thread kept real time ----
    local done_line
    done_line=$(grep " done: " "$p.log" | tail -1 || true)
    [ -n "$done_line" ] || { tail -20 "$p.log" >&2; fail "($name) asfcast printed no done: line (exit $rc)"; }
    local frames dropped packets media
    read -r frames dropped packets media < <(sed -n 's/.* done: \([0-9]*\) video frames (\([0-9]*\) dropped), [0-9]* audio frames, \([0-9]*\) packets, \([0-9.]*\) s.*/\1 \2 \3 \4/p' <<<"$done_line") || true
    [ -n "${media:-}" ] || fail "($name) cannot read asfcast's done: line: $done_line"
    note "($name) asfcast exit $rc after $wall s: $(sed 's/.* done: /done: /' <<<"$done_line"); RSS $((rss_early / 1024)) MB at 3 s, $((rss_late / 1024)) MB at $((DURATION - 2)) s"
    if grep -E " (critical) " "$p.log"; then fail "($name) asfcast logged critical errors"; fi
    near "$media" "$DURATION" 0.5 || fail "($name) media time $media s, not $DURATION s"
    [ "$frames" -ge $((DURATION * FPS - 10)) ] || fail "($name) only $frames video frames in a $DURATION s broadcast"
    [ "$dropped" -le 3 ] || fail "($name) $dropped frames dropped before the encoder (the pipeline did not keep up)"
    awk -v w="$wall" -v d="$DURATION" 'BEGIN { exit !(w <= d + 12) }' || fail "($name) the broadcast took $wall s of wall time"
    # The STATUS messages (one a second, from the job's own loop) read the mux thread's counters.
    # Through the whole run, (wall time - media time) and (wall time - frames/fps) stay flat, and
    # packets are made in every second: a mux thread blocked by an output would freeze them (the
    # encoders would block on it and the source would drop frames).
    local mux
    mux=$(awk -v fps=$FPS '
        $1 >= 1.5 {
            n++
            lm = $1 - $2; lf = $1 - $3 / fps
            if (n == 1 || lm < minm) minm = lm; if (n == 1 || lm > maxm) maxm = lm
            if (n == 1 || lf < minf) minf = lf; if (n == 1 || lf > maxf) maxf = lf
            if (n > 1) {
                dt = $1 - pt; r = ($5 - pp) / dt
                if (n == 2 || r < minr) minr = r; if (n == 2 || r > maxr) maxr = r
                if (dt > maxdt) maxdt = dt
            }
            if (n == 1) { t1 = $1; p1 = $5 }
            pt = $1; pp = $5
        }
        END {
            if (n < 3) { print "few"; exit }
            printf "%d %.1f %.2f %.2f %.1f %.1f %.2f %.1f\n", n, pt - t1, maxm - minm, maxf - minf, minr, maxr, maxdt, (pp - p1) / (pt - t1)
        }' "$p.status")
    [ "$mux" != few ] || fail "($name) too few STATUS messages from asfcast: $(cat "$p.status" "$p.status.err")"
    local n span jm jf minr maxr maxdt rate
    read -r n span jm jf minr maxr maxdt rate <<<"$mux"
    note "($name) mux: $n STATUS samples over $span s; wall-media spread $jm s, wall-frames/$FPS spread $jf s;" \
         "packets/s per sample $minr..$maxr (mean $rate); longest gap between samples $maxdt s"
    awk -v s="$span" -v d="$DURATION" 'BEGIN { exit !(s >= d - 5) }' || fail "($name) STATUS samples cover only $span s"
    awk -v j="$jm" 'BEGIN { exit !(j <= 1.6) }' || fail "($name) media time fell behind the wall clock by $jm s during the run"
    awk -v j="$jf" 'BEGIN { exit !(j <= 0.6) }' || fail "($name) video frames fell behind the wall clock by $jf s during the run"
    awk -v r="$minr" 'BEGIN { exit !(r >= 4) }' || fail "($name) a second with only $minr packets/s: the mux thread stalled"
    awk -v g="$maxdt" 'BEGIN { exit !(g <= 2.0) }' || fail "($name) asfcast's own loop went $maxdt s without a STATUS message"
    # Packets at the stream's rate: (800 + 96) kbit/s in 8192-byte packets is >= 13.7 a second.
    awk -v p="$packets" -v d="$DURATION" 'BEGIN { exit !(p / d >= 12) }' || fail "($name) $packets packets in $DURATION s"

    # ---- the healthy pull client ----
    local ff_err other
    ff_err=$(cat "$p.ffmpeg.log")
    other=$(grep -v -E "^Stream ended!$|Stream ends prematurely|^Read data packet header failed!$|^Recv other type packet -5$|Invalid data found when processing input$" <<<"$ff_err" || true)
    [ -z "$other" ] || fail "($name) the healthy ffmpeg client printed errors: $other"
    grep -q "^Stream ended!$" <<<"$ff_err" || fail "($name) the healthy ffmpeg client did not receive \$E: $ff_err"
    local joined ff_frames ff_span ff_gap
    joined=$(awk -v a="$t0" -v b="$ff_t0" 'BEGIN { printf "%.1f", b - a }')
    read -r ff_frames ff_span ff_gap < <(awk -F', *' '
        /^#tb 0:/ { split($0, a, "[:/ ]+"); tb = a[3] / a[4] }
        /^0,/ { n++; t = $2 * tb; if (n == 1) first = t; else if (t - prev > gap) gap = t - prev; prev = t }
        END { printf "%d %.2f %.3f\n", n, prev - first, gap }' "$p.framecrc")
    note "($name) healthy pull client (joined at $joined s): $ff_frames video frames over $ff_span s of media, largest step $ff_gap s; $(wc -l <<<"$ff_err") end-of-stream lines"
    # From its join (it starts on the newest key frame, at most a second back) to the end.
    awk -v f="$ff_frames" -v d="$DURATION" -v j="$joined" -v fps=$FPS 'BEGIN { exit !(f >= (d - j - 1.5) * fps) }' ||
        fail "($name) the healthy pull client decoded only $ff_frames video frames"
    awk -v g="$ff_gap" -v fps=$FPS 'BEGIN { exit !(g <= 1.5 / fps) }' || fail "($name) the healthy pull client lost frames: a $ff_gap s step"

    # ---- the healthy push target ----
    [ "$rx_rc" = 0 ] || { cat "$p.receiver.log" >&2; fail "($name) the strict receiver saw violations or no \$E"; }
    local rx_line sent_n skipped_n received
    rx_line=$(grep "push http://127.0.0.1:$rx_port/live: " "$p.log" | tail -1 || true)
    read -r sent_n skipped_n < <(sed -n 's|.*: finished; \([0-9]*\) packets sent, \([0-9]*\) skipped.*|\1 \2|p' <<<"$rx_line") || true
    [ -n "${sent_n:-}" ] || fail "($name) the healthy push target did not finish: $rx_line"
    received=$(sed -n 's/^received \([0-9]*\) packets.*/\1/p' "$p.receiver.log")
    note "($name) healthy push target: asfcast sent $sent_n packets ($skipped_n skipped); $(tail -1 "$p.receiver.log")"
    [ "$skipped_n" = 0 ] || fail "($name) the healthy push target skipped $skipped_n packets"
    [ "$received" = "$sent_n" ] || fail "($name) asfcast sent $sent_n packets, the receiver got $received"
    [ "$received" -ge $((packets - 20)) ] || fail "($name) the receiver got $received of $packets packets"
    local rx_video
    rx_video=$(count_frames "$p.push.asf" v)
    [ "$rx_video" -ge $((DURATION * FPS - 40)) ] || fail "($name) the push receiver's stream has only $rx_video video frames"

    # ---- the archive ----
    if [ "$mode" != disk ]; then
        ffmpeg_decodes_clean "$p.wmv"
        local a_dur a_frames
        a_dur=$(timeout 60 ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$p.wmv")
        a_frames=$(count_frames "$p.wmv" v)
        note "($name) archive: $a_dur s, $a_frames video frames, decodes cleanly"
        near "$a_dur" "$DURATION" 0.7 || fail "($name) the archive lasts $a_dur s, not $DURATION s"
        [ "$a_frames" -ge $((DURATION * FPS - 10)) ] || fail "($name) the archive has only $a_frames video frames"
        grep -q "archive .*: write failed\|archive .*; the broadcast goes on without it" "$p.log" &&
            fail "($name) the healthy archive failed: $(grep 'archive ' "$p.log")"
        [ "$rc" = 0 ] || fail "($name) asfcast exit $rc"
    fi

    case $mode in
        disk) check_disk "$name" "$p" ;;
        push) check_push "$name" "$p" "$stalled_port" ;;
        pull) check_pull "$name" "$p"; check_msbd "$name" "$p" "$msbd_rc" ;;
    esac
}

check_disk() {
    local name=$1 p=$2
    # Nothing of the namespace is left: the directory is empty and no tmpfs is mounted there.
    grep -q " $p.disk " /proc/self/mounts && fail "($name) the tmpfs leaked out of the mount namespace"
    [ -z "$(ls -A "$p.disk")" ] || fail "($name) files appeared in $p.disk outside the namespace"
    local fail_line
    fail_line=$(grep -E "archive .*(write failed|No space left).*the broadcast goes on without it" "$p.log" | head -1 || true)
    [ -n "$fail_line" ] || { grep archive "$p.log" >&2; fail "($name) no clear archive failure in the log"; }
    grep -q "check free space" <<<"$fail_line" || fail "($name) the failure does not say what to check: $fail_line"
    # When, in the broadcast: after capture started, well before the end.
    local t_cap t_fail at
    t_cap=$(grep " capturing: " "$p.log" | head -1 | log_time)
    t_fail=$(log_time <<<"$fail_line")
    at=$(awk -v a="$t_cap" -v b="$t_fail" 'BEGIN { printf "%.1f", b - a }')
    note "($name) the archive failed at $at s: $(sed 's/^[0-9-]* [0-9:.]* //' <<<"$fail_line")"
    awk -v a="$at" -v d="$DURATION" 'BEGIN { exit !(a >= 2 && a <= d - 3) }' ||
        fail "($name) the disk filled at $at s, not mid-broadcast"
    # STATUS samples after the failure: the broadcast went on.
    local after
    after=$(awk -v at="$at" '$1 > at + 1 { n++ } END { print n + 0 }' "$p.status")
    awk -v n="$after" -v at="$at" -v d="$DURATION" 'BEGIN { exit !(n >= d - at - 2.5) }' || fail "($name) only $after STATUS samples after the archive failed"
    local df_line
    df_line=$(cat "$p.df" 2>/dev/null || true)
    [ -s "$p.wmv" ] || fail "($name) no archive was left on the tmpfs"
    # The archive on the full disk reads to its last whole packet: the writer cut off the part of
    # a packet the disk took. The header still says broadcast (data runs to the end of the file);
    # the last video frame is cut where the file ends: ffmpeg decodes every frame before it and
    # all the audio without an error.
    local layout
    layout=$(timeout 30 "$ASFCAST" inspect --json "$p.wmv" | python3 -c '
import json, os, sys
j = json.load(sys.stdin)
size = os.path.getsize(sys.argv[1])
data = size - j["header_size"] - 50
problems = [x for x in j["problems"] if not x.startswith("trailing partial packet")]
print(j["flags"]["broadcast"], size, j["max_packet_size"], data // j["max_packet_size"], data % j["max_packet_size"],
      j["packets"]["count"], j["packets"]["send_times_monotonic"], j["packets"]["last_send_ms"], "|".join(problems) or "-")' "$p.wmv") ||
        fail "($name) asfcast inspect cannot read the archive left on the full disk"
    local bcast size psize whole partial read_n mono last_send problems
    read -r bcast size psize whole partial read_n mono last_send problems <<<"$layout"
    local a_frames a_dur err_v err_a err_all
    a_frames=$(timeout 120 ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
               -of default=nw=1:nk=1 "$p.wmv" 2>/dev/null) || fail "($name) ffprobe cannot read the archive left on the full disk"
    a_dur=$(timeout 60 ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$p.wmv" 2>/dev/null || true)
    err_v=$(timeout 120 ffmpeg -nostdin -v error -threads 1 -i "$p.wmv" -map 0:v -frames:v $((a_frames - 1)) -f null - 2>&1) ||
        fail "($name) ffmpeg exit $? on the video of the archive left on the full disk: $err_v"
    err_a=$(timeout 120 ffmpeg -nostdin -v error -i "$p.wmv" -map 0:a -f null - 2>&1) ||
        fail "($name) ffmpeg exit $? on the audio of the archive left on the full disk: $err_a"
    err_all=$(timeout 120 ffmpeg -nostdin -v error -i "$p.wmv" -f null - 2>&1) ||
        fail "($name) ffmpeg exit $? on the archive left on the full disk: $err_all"
    note "($name) archive left on the full tmpfs (df: $df_line): $size bytes = header + $whole whole packets of $psize + $partial bytes;" \
         "broadcast flag $bcast; inspect read $read_n packets, send times monotonic $mono, last send $last_send ms, other problems: $problems;" \
         "ffprobe $a_frames video frames, $a_dur s; ffmpeg on all but the cut last frame: ${err_v:-no error}, audio: ${err_a:-no error};" \
         "whole file: $(grep -c . <<<"$err_all") error lines"
    [ "$bcast" = True ] || fail "($name) the archive left on the full disk is not marked broadcast"
    [ "$read_n" = "$whole" ] || fail "($name) inspect read $read_n of the $whole whole packets"
    [ "$partial" = 0 ] || fail "($name) the archive ends with $partial bytes of a partial packet"
    [ "$mono" = True ] && [ "$problems" = - ] || fail "($name) inspect: send times monotonic $mono, problems $problems"
    [ -z "$err_v" ] || fail "($name) ffmpeg printed errors decoding the video before the last frame: $err_v"
    [ -z "$err_a" ] || fail "($name) ffmpeg printed errors decoding the audio: $err_a"
    awk -v f="$a_frames" -v at="$at" -v fps=$FPS 'BEGIN { exit !(f >= (at - 2) * fps) }' ||
        fail "($name) the archive on the full disk holds $a_frames video frames; it failed at $at s"
    # asfcast reports the failed output in its exit status, after a whole broadcast.
    [ "$(cat "$p.rc")" != 0 ] || fail "($name) asfcast exit 0 although its archive failed"
}

# Seconds from the start of capture to a log line of $1's log (the line on stdin).
since_capture() {
    local t_cap t
    t_cap=$(grep " capturing: " "$1.log" | head -1 | log_time)
    t=$(log_time)
    awk -v a="$t_cap" -v b="$t" 'BEGIN { printf "%.1f", b - a }'
}

check_push() {
    local name=$1 p=$2 sport=$3
    local url="http://127.0.0.1:$sport/stalled" lines summary first_report at
    lines=$(grep "push\[1\] $url: " "$p.log" || true)
    summary=$(grep "push $url: " "$p.log" | tail -1 | sed 's/^[0-9-]* [0-9:.]* //' || true)
    first_report=$(grep -E "/stalled: (queue full|network error|.*retrying in)" <<<"$lines" | head -1 || true)
    [ -n "$first_report" ] || fail "($name) the stalled target is not reported (queue full, stalled or retrying): $lines"
    at=$(since_capture "$p" <<<"$first_report")
    note "($name) stalled target reported at $at s: $(sed 's/^[0-9-]* [0-9:.]* //' <<<"$first_report");" \
         "$(grep -c "resuming at a key frame" <<<"$lines") resumes at a key frame"
    note "($name) stalled target at the end: $summary"
    note "($name) stalled target's side: $(tr '\n' ';' < "$p.stalled.log")"
    grep -q "streaming (push-id" <<<"$lines" || fail "($name) the stalled target never started streaming"
    grep -q "stalled-push: connection 1: POST .*reading no more" "$p.stalled.log" || fail "($name) the stalled target never got PushStart"
    awk -v a="$at" -v d="$DURATION" 'BEGIN { exit !(a <= d - 5) }' || fail "($name) the stall was reported only at $at s"
    local sent skipped
    read -r sent skipped < <(sed -n 's/.*: [a-z]*; \([0-9]*\) packets sent, \([0-9]*\) skipped.*/\1 \2/p' <<<"$summary") || true
    [ "${skipped:-0}" -gt 0 ] || fail "($name) the stalled target skipped no packets: $summary"
    # Its accounting: no packet is sent or skipped twice, so the two add up to at most what the
    # mux made.
    [ $((sent + skipped)) -le "$packets" ] ||
        fail "($name) the stalled target counts $sent sent + $skipped skipped packets of the $packets the broadcast made"
}

check_pull() {
    local name=$1 p=$2 close skips at
    close=$(grep -E "pull: connection [0-9]+ from .* closed after .*: (client stopped reading|fell behind)" "$p.log" | head -1 || true)
    skips=$(sed -n 's/.*pull: .* \([0-9]*\) lag skips, .*/\1/p' "$p.log" | tail -1)
    note "($name) pull summary: $(grep "pull: .* plays, " "$p.log" | sed 's/^[0-9-]* [0-9:.]* //')"
    note "($name) stalled client's side: $(tr '\n' ';' < "$p.stalled.log")"
    grep -q "Play sent" "$p.stalled.log" || fail "($name) the stalled client did not play"
    if [ -n "$close" ]; then
        at=$(since_capture "$p" <<<"$close")
        note "($name) stalled client disconnected at $at s: $(sed 's/^[0-9-]* [0-9:.]* //' <<<"$close")"
        awk -v a="$at" -v d="$DURATION" 'BEGIN { exit !(a <= d - 3) }' || fail "($name) the stalled client was closed only at $at s"
    else
        [ "${skips:-0}" -gt 0 ] || fail "($name) the stalled pull client was neither skipped nor disconnected"
        note "($name) stalled client skipped to key frames $skips times"
    fi
}

check_msbd() {
    local name=$1 p=$2 rc=$3 summary
    summary=$(grep "msbd: .* connections, " "$p.log" | tail -1 | sed 's/^[0-9-]* [0-9:.]* //')
    note "($name) MSBD: $summary"
    note "($name) stalled MSBD client: $(tr '\n' ';' < "$p.msbd-stalled.log")"
    note "($name) healthy MSBD client: $(tail -1 "$p.msbd.log")"
    grep -q "stalled after 5 packets" "$p.msbd-stalled.log" || fail "($name) the stalled MSBD client never got 5 packets"
    # The server gave up on it, or skipped it to newer key frames, while the broadcast ran.
    local skips lagged pinged
    read -r pinged skips lagged < <(sed -n 's/.* \([0-9]*\) ping timeouts, \([0-9]*\) lag skips, \([0-9]*\) disconnected for lag,.*/\1 \2 \3/p' <<<"$summary") || true
    [ -n "${lagged:-}" ] || fail "($name) cannot read the MSBD summary: $summary"
    [ $((pinged + skips + lagged)) -gt 0 ] || fail "($name) the stalled MSBD client was neither skipped nor closed"
    [ "$rc" = 0 ] || { cat "$p.msbd.log" >&2; fail "($name) the healthy MSBD client saw a violation or no IND_EOS"; }
    ffmpeg_decodes_clean "$p.msbd.asf"
    local frames
    frames=$(count_frames "$p.msbd.asf" v)
    note "($name) healthy MSBD client's stream: $frames video frames, decodes cleanly"
    [ "$frames" -ge $((DURATION * FPS - 60)) ] || fail "($name) the healthy MSBD client's stream has only $frames video frames"
}

# (b) runs in a network namespace of its own: the kernel autotunes a loopback socket's send buffer
# up to net.ipv4.tcp_wmem's maximum (4 MB by default: half a minute of this stream), which would
# hide a server that stopped reading from asfcast for longer than the broadcast. Its own
# namespace (loopback only) caps send buffers at 256 KB, as a busy or WAN link would, for every
# socket of the broadcast, the healthy ones included; the host's settings are not touched.
if [ "${OUTPUT_STALL_NETNS:-}" = push ]; then
    ip link set lo up
    sysctl -q -w net.ipv4.tcp_wmem="4096 16384 262144"
    note "(b-push-stalled) in a private network namespace: lo up, tcp_wmem $(tr '\t' ' ' < /proc/sys/net/ipv4/tcp_wmem)"
    broadcast b-push-stalled push
    exit 0
fi

started=$(now_s)
scenarios=${OUTPUT_STALL_SCENARIOS:-a b c}  # a subset, to run one while working on it
case " $scenarios " in *" a "*) broadcast a-full-disk disk ;; esac
case " $scenarios " in *" b "*) unshare -n -- env OUTPUT_STALL_NETNS=push bash "$0" || exit 1 ;; esac
case " $scenarios " in *" c "*) broadcast c-pull-stalled pull ;; esac
note "scenarios $scenarios: the mux thread and the healthy outputs kept real time;" \
     "$(awk -v a="$started" -v b="$(now_s)" 'BEGIN { printf "%.0f", b - a }') s in all"
