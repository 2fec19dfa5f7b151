# Shared helpers for the interop tests (sourced). Every command is bounded by `timeout`.
set -euo pipefail

ASFCAST=${ASFCAST:?ASFCAST must point at the asfcast binary}
WORK=${WORK:?WORK must name the shared work folder}
mkdir -p "$WORK"
chmod 0777 "$WORK"

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "-- $*"; }

# Runs a command as an unprivileged user (VLC refuses root).
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }

# Floating-point comparison: near ACTUAL EXPECTED TOLERANCE
near() { awk -v a="$1" -v e="$2" -v t="$3" 'BEGIN { d = a - e; if (d < 0) d = -d; exit !(d <= t) }'; }

# ffprobe JSON of a file (streams and format, frame counts on request).
probe_json() { timeout 120 ffprobe -v error -print_format json -show_streams -show_format "$@"; }

# Decodes every frame with ffmpeg; fails on any error output.
ffmpeg_decodes_clean() {
    local f=$1 err
    err=$(timeout 300 ffmpeg -nostdin -v error -xerror -i "$f" -f null - 2>&1) || fail "ffmpeg exit $? decoding $f: $err"
    [ -z "$err" ] || fail "ffmpeg printed errors decoding $f: $err"
}

# Number of decoded frames of the first stream of a type (v or a), counted by ffprobe.
count_frames() {
    timeout 300 ffprobe -v error -count_frames -select_streams "$2:0" -show_entries stream=nb_read_frames \
        -of default=nw=1:nk=1 "$1"
}

# Decodes FILE with GStreamer's asfdemux + decodebin into fakesinks; prints "VIDEO AUDIO" buffer
# counts. Fails on a non-zero exit or an ERROR message.
gst_decode_counts() {
    local out
    out=$(timeout 120 gst-launch-1.0 -v filesrc location="$1" ! asfdemux name=d \
          d.video_0 ! queue ! decodebin ! fakesink name=vsink silent=false \
          d.audio_0 ! queue ! decodebin ! fakesink name=asink silent=false 2>&1) ||
        fail "gst-launch exit $? on $1: $(tail -5 <<<"$out")"
    grep -qi "ERROR" <<<"$out" && fail "GStreamer reported an error on $1: $(grep -i ERROR <<<"$out" | head -3)"
    echo "$(grep -c "chain.*(vsink:sink)" <<<"$out" || true) $(grep -c "chain.*(asink:sink)" <<<"$out" || true)"
}

# VLC's own error lines that are not about the stream: no D-Bus/X11/PulseAudio for an unprivileged
# user, the Describe read that its mmsh access always ends by reading past Content-Length until
# close, and its transcode module probing hardware surfaces and encoder options it does not use.
VLC_NOISE='dbus|interface|globalhotkeys|PulseAudio|cannot read data 2|Too high level of recursion|Failed to create video converter|avcodec encoder error: Unknown option'

# VLC (cvlc 3, as nobody: it refuses root) decodes URL (file://... or mmsh://...) and records each
# frame its decoders output: the transcode stream output turns every decoded picture into raw I420
# and every audio buffer into s16l, and the stats stream output writes one line per frame with its
# MD5 (OUT.stats). Nothing is displayed, so no clock drops a late picture, and a file decodes as
# fast as the CPU allows. fps=1000000: the raw encoder stamps pictures in units of 1/fps and drops
# one that lands in its predecessor's unit ("two frames with the same PTS"); at the stream's own
# 1/30 s, ASF's millisecond times put two pictures in one unit now and then, at 1 us never. (VLC
# then adds its fps filter, which passes on each picture as it comes, unchanged: every picture
# is more than 1 us after the last one, so the filter restarts its clock on it.)
# Bounded by LIMIT seconds (default 60). Fails on a non-zero exit, on the timeout, on an error
# line that is not VLC_NOISE and on a picture dropped for its time; writes OUT.log, OUT.video (the
# pictures' MD5s in output order, as ffmpeg's framemd5 of yuv420p computes them) and prints
# "VIDEO_FRAMES AUDIO_FRAMES".
vlc_decode() {
    local url=$1 out=$2 limit=${3:-60} rc=0 errors
    : > "$out.stats"
    chmod 0666 "$out.stats"
    as_nobody timeout -k 5 "$limit" env HOME=/tmp cvlc -vv -I dummy --no-dbus --vout dummy --aout dummy \
        --avcodec-hw none --play-and-exit --sout "#transcode{vcodec=I420,fps=1000000,acodec=s16l}:stats{output=$out.stats}" \
        "$url" > "$out.log" 2>&1 || rc=$?
    [ "$rc" = 0 ] || fail "cvlc exit $rc on $url (124: still running after $limit s; log $out.log)"
    errors=$(grep -E " (error|fatal):" "$out.log" | grep -v -E "$VLC_NOISE" || true)
    [ -z "$errors" ] || fail "VLC logged errors on $url: $(head -5 <<<"$errors")"
    ! grep -q "two frames with the same PTS" "$out.log" || fail "VLC dropped a decoded picture for its time (log $out.log)"
    awk -F'\t' '$3 == "Video" { print $7 }' "$out.stats" > "$out.video"
    echo "$(wc -l < "$out.video") $(awk -F'\t' '$3 == "Audio"' "$out.stats" | wc -l)"
}
