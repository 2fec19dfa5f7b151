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
