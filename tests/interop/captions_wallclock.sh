#!/usr/bin/env bash
# Captions from a wall-clock time (issue 13: script_commands.captions_wallclock). An SRT file with
# cues at 1 s and 3 s plays from a UTC time a few seconds after the broadcast starts. In the
# archive, each CAPTION (and the empty CAPTION that clears it) is at the media time of its
# wall-clock moment: media time = CLOCK_MONOTONIC - origin_us (asfcast's --media-clock-file), and
# the test measures CLOCK_REALTIME - CLOCK_MONOTONIC itself. Tolerance: one frame (34 ms) plus
# clock-reading noise, 50 ms in all. A cue whose time has already passed is not shown.
source "$(dirname "$0")/lib.sh"
d=$WORK/captions-wallclock
rm -rf "$d"
mkdir -p "$d"
cat > "$d/captions.srt" <<'SRT'
1
00:00:00,200 --> 00:00:00,400
Too early

2
00:00:04,000 --> 00:00:05,000
One

3
00:00:06,000 --> 00:00:06,500
Two
SRT
# The file's 00:00:00: a whole second about 2 s ago, in UTC.
read -r target_s target_iso wall_minus_mono_us < <(python3 -c '
import datetime, time
t = int(time.time()) - 2
iso = datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
off = time.time_ns() // 1000 - time.monotonic_ns() // 1000
print(t, iso, off)')
cat > "$d/preset.yaml" <<YAML
name: captions-wallclock
base: default
video: {width: 320, height: 240, bitrate_kbps: 300, max_bitrate_kbps: 300, vbv_buffer_kbit: 300,
        keyframe_interval_s: 1, x264_preset: ultrafast}
audio: {codec: wma2, bitrate_kbps: 64}
outputs: {pull: off}
script_commands:
  captions: $d/captions.srt
  captions_wallclock: "$target_iso"
YAML
timeout 60 "$ASFCAST" --log-level info run --preset "$d/preset.yaml" --archive "$d/archive.wmv" --duration 9 \
    --media-clock-file "$d/media.clock" > "$d/asfcast.log" 2>&1 || { tail -20 "$d/asfcast.log" >&2; fail "asfcast exit $?"; }
origin_us=$(sed -n 's/^origin_us \([0-9]*\)$/\1/p' "$d/media.clock")
[ -n "$origin_us" ] || fail "no origin_us in the media clock file"
timeout 60 ffprobe -v error -select_streams d -show_packets -show_data -of json "$d/archive.wmv" > "$d/packets.json" ||
    fail "ffprobe cannot read the archive"
python3 - "$d/packets.json" "$target_s" "$wall_minus_mono_us" "$origin_us" <<'PY' || fail "the captions are not at their wall-clock times"
import json, re, sys
packets, target_s, wall_minus_mono, origin = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
got = []
for p in json.load(open(packets)).get("packets", []):
    if p.get("codec_type") != "data":
        continue
    raw = bytes.fromhex("".join(re.findall(r"^[0-9a-f]{8}: ((?:[0-9a-f]{4} ?)+)", p["data"], re.M)).replace(" ", ""))
    kind, param, rest = raw.decode("utf-16-le").split("\0", 2)
    got.append((round(float(p["pts_time"]) * 1000), kind, param))
def media_ms(cue_s):  # the media time of the wall-clock moment target + cue_s
    return (target_s * 1_000_000 + int(cue_s * 1_000_000) - wall_minus_mono - origin) / 1000
expected = [(media_ms(4.0), "CAPTION", "One"), (media_ms(5.0), "CAPTION", ""),
            (media_ms(6.0), "CAPTION", "Two"), (media_ms(6.5), "CAPTION", "")]
assert [(k, p) for _, k, p in got] == [(k, p) for _, k, p in expected], f"got {got}, expected {expected}"
worst = 0
for (gt, _, p), (et, _, _) in zip(got, expected):
    worst = max(worst, abs(gt - et))
    assert abs(gt - et) <= 50, f"'{p}' at {gt} ms, its wall-clock moment is media time {et:.0f} ms"
print(f"-- {len(got)} captions at their wall-clock moments (media {[g[0] for g in got]} ms), at most {worst:.0f} ms off;"
      " the cue already past was skipped")
PY
grep -q "captions .*: 3 SRT cues" "$d/asfcast.log" || fail "asfcast did not read the 3 cues: $(grep captions "$d/asfcast.log")"
note "$(grep -o 'captions .*: 00:00:00 of the file plays at .*' "$d/asfcast.log")"
