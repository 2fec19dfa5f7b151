#!/usr/bin/env bash
# A seek into the middle lands on a key frame (the Simple Index leads there).
source "$(dirname "$0")/lib.sh"
for f in live.wmv file.wmv; do
    first=$(timeout 60 ffprobe -v error -read_intervals 3%+#1 -select_streams v:0 -show_entries packet=dts_time,flags \
            -of csv=p=0 "$WORK/$f" | head -1)
    note "$f: first video packet after seeking to 3 s: $first"
    [[ "$first" == *K* ]] || fail "$f: seek landed on a non-key frame ($first)"
    t=${first%%,*}
    near "$t" 3 2.1 || fail "$f: seek landed at $t s, expected near 3 s"
    # (ASF carries presentation times only; ffprobe shows them as the packets' dts.)
    # ffmpeg decodes from the seek point without errors.
    err=$(timeout 60 ffmpeg -nostdin -v error -xerror -ss 3 -i "$WORK/$f" -t 1 -f null - 2>&1) || fail "ffmpeg -ss failed: $err"
    [ -z "$err" ] || fail "ffmpeg -ss printed: $err"
done
