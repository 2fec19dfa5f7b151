# Helpers for the DRM interop tests (sourced after lib.sh and pull_lib.sh): a source file made at
# test time, the clear reference run, key files, the strict push receiver, and frame comparisons.
DRM_DECRYPT=${DRM_DECRYPT:?DRM_DECRYPT must point at drm_decrypt}
CLEAR_SCAN=${CLEAR_SCAN:?CLEAR_SCAN must point at clear_scan}
RECEIVER=${STRICT_RECEIVER:?STRICT_RECEIVER must point at the strict receiver}
WMSP_TO_ASF=${WMSP_TO_ASF:?WMSP_TO_ASF must point at wmsp_to_asf}

DRM_KEY=7d2c5b9e04a1f36c88e0d1b2a3c4f5e6       # the test's content key (a file of mode 600 holds it)
DRM_KEY_B64=fSxbngSh82yI4NGyo8T15g==          # the same key in base64, looked for in the logs
DRM_KID=6f1c0a72-5b3d-4e8f-9a21-c4d5e6f70812
DRM_LA_URL="https://license.example.net/playready/rightsmanager.asmx?ch=asfcast"

# A test source made now (nothing generated is committed): every frame differs (testsrc2), a tone.
# Usage: make_source OUT SECONDS
make_source() {
    timeout 120 ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=320x240:rate=30" \
        -f lavfi -i "sine=frequency=440:sample_rate=44100" -t "$2" -c:v ffv1 -c:a pcm_s16le "$1" ||
        fail "ffmpeg could not make the test source"
}

# The media part of every preset of these tests (identical in the clear and protected runs).
media_preset() {
    cat <<YAML
base: default
video: {width: 320, height: 240, bitrate_kbps: 300, max_bitrate_kbps: 300, vbv_buffer_kbit: 300,
        keyframe_interval_s: 1, x264_preset: ultrafast}
audio: {codec: wma2, bitrate_kbps: 64}
asf: {packet_size: 2048}
YAML
}

# Starts the strict MS-WMHTTP receiver (a child of this shell: call it directly, not in $(...));
# sets RX_PID and RX_PORT. Usage: start_receiver DIR SECONDS
start_receiver() {
    "$RECEIVER" --out "$1/push.asf" --wire-out "$1/push.wire" --seconds "$2" > "$1/receiver.log" 2>&1 &
    RX_PID=$!
    RX_PORT=""
    local i
    for i in $(seq 1 50); do
        RX_PORT=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$1/receiver.log")
        [ -n "$RX_PORT" ] && break
        sleep 0.1
    done
    [ -n "$RX_PORT" ] || fail "the strict receiver did not start"
}

# Every frame's MD5 with the file's own timestamps (ms for video); fails on any ffmpeg error.
framemd5() {
    local err
    err=$(timeout 120 ffmpeg -nostdin -v error -copyts -i "$1" -map 0:v -map 0:a -fps_mode passthrough \
          -enc_time_base:v 1/1000 -f framemd5 -y "$2" 2>&1) || fail "ffmpeg exit $? decoding $1: $err"
    [ -z "$err" ] || fail "ffmpeg printed errors decoding $1: $err"
}

# Every frame of stream S of OUT (framemd5) equals the reference's frame of the same pts (within
# 1 ms). Prints "frames first last reference_frames"; fails on a frame that differs or is missing.
frames_match() {
    awk -F', *' -v s="$3" '
        /^#tb / { split($0, t, /[ :\/]+/); tb[t[2]] = t[4] + 0; next }
        /^#/ { next }
        FNR == NR { if ($1 == s) { n++; pts[n] = $3; md5[n] = $6 } next }
        $1 == s {
            tol = tb[s] / 1000 + 1
            while (i < n && pts[i + 1] < $3 - tol) { i++; if (m > 0) { print "missing reference frame pts " pts[i] > "/dev/stderr"; exit 1 } }
            if (i >= n || pts[i + 1] > $3 + tol) { print "frame pts " $3 " is not in the reference" > "/dev/stderr"; exit 1 }
            i++
            if (md5[i] != $6) { print "frame pts " $3 " differs from the reference frame pts " pts[i] > "/dev/stderr"; exit 1 }
            if (m == 0) first = i
            m++
        }
        END { if (m == 0) { print "no frames" > "/dev/stderr"; exit 1 } print m, first, i, n }' "$1" "$2"
}

# The clear media objects of an ASF file as ffmpeg extracts them (-c copy to raw data): the
# reference for clear_scan, taken by an independent reader. Usage: clear_objects FILE PREFIX
clear_objects() {
    timeout 60 ffmpeg -nostdin -v error -y -i "$1" -map 0:v -c copy -f data "$2.video" || fail "ffmpeg could not extract the video"
    timeout 60 ffmpeg -nostdin -v error -y -i "$1" -map 0:a -c copy -f data "$2.audio" || fail "ffmpeg could not extract the audio"
}

# The ASF header (Header Object + 50-byte Data Object start) of a file. Usage: header_of FILE OUT
header_of() {
    local size
    size=$(od -An -t u8 -j 16 -N 8 "$1" | tr -d ' ')
    head -c "$((size + 50))" "$1" > "$2"
}

# The key must appear in no log, hex (any case) or base64. Usage: key_not_in FILE...
key_not_in() {
    local f
    for f in "$@"; do
        if grep -qi -e "$DRM_KEY" -e "$DRM_KEY_B64" "$f"; then fail "the content key appears in $f"; fi
    done
}
