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

# The port of a strict push receiver started in the background with its output in LOG (it prints
# "port N" once listening); fails after 5 s.
receiver_port() {
    local port="" i
    for i in $(seq 1 50); do
        port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$1")
        [ -n "$port" ] && { echo "$port"; return 0; }
        sleep 0.1
    done
    fail "the push receiver did not start: $(cat "$1")"
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
# seconds), audio times by one WMA2 frame. Prints a summary line. Usage:
# check_timeline FILE MAX_GAP_S WHAT [MISSING_S [AUDIO_FRAME_S]]: MISSING_S seconds of the span may
# have no video (video.codec copy: a late source's pictures cannot be held, see
# rtsp_camera_restart.sh); AUDIO_FRAME_S is the audio frame's duration (default WMA2's 2048 samples
# at 44.1 kHz; audio.codec copy: AAC's 1024 at 48 kHz, 0.0213), audio steps within 1.5 ms of it.
check_timeline() {
    local f=$1 max_gap=$2 what=$3 missing_s=${4:-0} aframe=${5:-0.0464}
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
    agap=$(awk -v fr="$aframe" 'NR > 1 { d = $1 - p; if (d > m) m = d; if (d < fr - 0.0015) bad = 1 } { p = $1 } END { if (bad) print "short"; else printf "%.3f", m }' "$at")
    note "$what: $frames video frames over $span s (expected $(awk -v s="$span" 'BEGIN { printf "%.0f", s * 30 }') at 30 fps), largest video step $gap s, largest audio step $agap s"
    [ "$gap" != back ] || fail "$what: video time steps back"
    [ "$agap" != short ] || fail "$what: audio frames overlap"
    awk -v g="$gap" -v m="$max_gap" 'BEGIN { exit !(g <= m) }' || fail "$what: a video gap of $gap s (bound $max_gap s)"
    awk -v g="$agap" -v fr="$aframe" 'BEGIN { exit !(g <= fr + 0.0016) }' || fail "$what: an audio gap of $agap s (an audio frame is $aframe s)"
    awk -v n="$frames" -v s="$span" -v m="$missing_s" 'BEGIN { e = s * 30; d = n - e; if (d < 0) d = -d; if (n < e) d -= m * 30; exit !(d <= 0.03 * e + 1) }' ||
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

# The MD5 of each video frame of FILE as ffmpeg decodes it (yuv420p, every frame once, in order),
# one a line, in FILE.ffmpeg.video (computed once).
ffmpeg_video_md5s() {
    local f=$1 err
    [ -s "$f.ffmpeg.video" ] && return 0
    err=$(timeout 120 ffmpeg -nostdin -v error -i "$f" -map 0:v:0 -fps_mode passthrough -pix_fmt yuv420p \
          -f framemd5 -y "$f.framemd5" 2>&1) || fail "ffmpeg exit $? decoding $f: $err"
    awk -F', *' '!/^#/ { print $6 }' "$f.framemd5" > "$f.ffmpeg.video"
}

# VLC decodes the archive FILE (file://, see vlc_decode): its pictures are ffmpeg's, bit for bit and
# in order, and it decodes every frame ffprobe counts, but for VLC 3.0's own losses at the end of
# an ASF file, measured on files of asfcast's and of ffmpeg's own ASF muxer alike:
#  - video: the last frame (its ASF demuxer stops at the index object after the Data Object and
#    does not pass on the frame it holds; with the index cut off, or from mmsh://, it passes all);
#  - audio: the last 2 frames (that one, and its WMA2 decoding, the same libavcodec decoder as
#    ffmpeg's, ends one frame before ffmpeg's, the same frames in Matroska too).
# So VLC must have at least ffprobe's count minus 1 (video) and minus 2 (audio), and no more.
check_vlc_file() {
    local f=$1 what=$2 counts v a fv fa
    counts=$(vlc_decode "file://$f" "$f.vlc" 60) || exit 1
    read -r v a <<<"$counts"
    fv=$(count_frames "$f" v)
    fa=$(count_frames "$f" a)
    note "$what: VLC decoded $v video and $a audio frames, ffprobe counts $fv and $fa"
    [ "$v" -le "$fv" ] && [ "$v" -ge $((fv - 1)) ] || fail "$what: VLC decoded $v video frames where ffprobe counts $fv (log $f.vlc.log)"
    [ "$a" -le "$fa" ] && [ "$a" -ge $((fa - 2)) ] || fail "$what: VLC decoded $a audio frames where ffprobe counts $fa (log $f.vlc.log)"
    ffmpeg_video_md5s "$f"
    head -n "$v" "$f.ffmpeg.video" | cmp -s - "$f.vlc.video" ||
        fail "$what: VLC's pictures are not ffmpeg's: $(head -n "$v" "$f.ffmpeg.video" | diff - "$f.vlc.video" | head -3)"
}

# VLC's pictures from the live stream (OUT of a vlc_decode of mmsh://..., run while asfcast
# broadcast and archived ARCHIVE) against the archive's, as ffmpeg decodes them: one run of
# consecutive archive pictures, none missing or repeated, from the key frame VLC joined at (within
# the first 5 s) to the archive's last; its audio lasts as long as its video (30 fps, the network
# preset's) within 0.5 s.
check_vlc_live() {
    local out=$1 archive=$2 what=$3 v a r first last n secs
    read -r v a < "$out.counts"
    ffmpeg_video_md5s "$archive"
    r=$(awk 'FNR == NR { n++; md5[n] = $1; next } { m++; got[m] = $1 }
        END {
            best = 0
            for (k = 1; k + m - 1 <= n; k++) {
                if (md5[k] != got[1]) continue
                for (j = 1; j <= m && md5[k + j - 1] == got[j]; j++) {}
                if (j > m) { print k, k + m - 1, n; exit 0 }
                if (j > best) { best = j; at = k }
            }
            if (m == 0) print "no pictures" > "/dev/stderr"
            else if (best == 0) print "its first picture is not an archive picture" > "/dev/stderr"
            else print "picture " best " differs from archive picture " at + best - 1 " (" best - 1 " equal before)" > "/dev/stderr"
            exit 1
        }' "$archive.ffmpeg.video" "$out.video" 2>&1) || fail "$what: VLC's pictures are not the archive's: $r (log $out.log)"
    read -r first last n <<<"$r"
    secs=$(awk -F'\t' -v v="$v" '$3 == "Audio" { t += $6 } END { printf "%.2f", t / 1e6 - v / 30 }' "$out.stats")
    note "$what: VLC decoded archive pictures $first..$last of $n ($v, in order, none missing) and $a audio frames (audio minus video: $secs s)"
    [ "$last" = "$n" ] || fail "$what: VLC's pictures end at archive picture $last of $n"
    [ "$first" -le 150 ] || fail "$what: VLC's pictures begin at archive picture $first (more than 5 s late)"
    near "$secs" 0 0.5 || fail "$what: VLC's audio and video durations differ by $secs s"
}
