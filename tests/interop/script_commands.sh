#!/usr/bin/env bash
# Script commands, captions and markers (issue 13). One live `asfcast run` (test pattern, 30 fps)
# with an archive and the pull source, script commands read from a FIFO and a caption file (one
# cue malformed) played from media time 2 s. During the broadcast the test sends a live CAPTION
# (asfcast command), scheduled URL/EVENT/custom commands (@TIME lines), two markers (asfcast marker)
# and a bad line.
#  - WMSP clients see every command at its time (±1 frame = 34 ms): ffmpeg's own mmsh client
#    (ffprobe -show_packets on mmsh://) and a raw Play capture (curl) read by `asfcast inspect`;
#    libmms, which turns off every stream but one audio and one video (ffff:N:2), gets none; so do ffprobe and inspect on the archive. A command
#    sent live is at the media time of the moment it was sent (the capture clock, from
#    --media-clock-file), ±1 frame plus the FIFO's delivery.
#  - The archive's header lists the same commands (Script Command Object) and the markers (Marker
#    Object; ffprobe shows them as chapters).
#  - The malformed cue and the bad command line are logged with their line numbers and the
#    broadcast goes on to its end.
#  - VLC and MPlayer: do they show script-command captions? They play the archive, and their logs
#    say whether they read the command stream (see the notes printed).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
WMSP_TO_ASF=${WMSP_TO_ASF:?WMSP_TO_ASF must point at wmsp_to_asf}
MMS_CLIENT=${MMS_CLIENT:?MMS_CLIENT must point at the libmms test client}

d=$WORK/script-commands
rm -rf "$d"
mkdir -p "$d"
chmod 0777 "$d"
cat > "$d/preset.yaml" <<YAML
name: script-commands
base: default
video: {width: 320, height: 240, bitrate_kbps: 300, max_bitrate_kbps: 300, vbv_buffer_kbit: 300,
        keyframe_interval_s: 1, x264_preset: ultrafast}
audio: {codec: wma2, bitrate_kbps: 64}
asf: {packet_size: 2048}
YAML
# Cue 2 is malformed (its timing line is line 6): reported, skipped; the others play, from 2 s on.
cat > "$d/captions.srt" <<'SRT'
1
00:00:01,000 --> 00:00:02,000
First caption

2
00:00:02,500 -> 00:00:03,000
never shown

3
00:00:03,500 --> 00:00:04,000
Third <i>caption</i> &amp; more
SRT

fifo=$d/commands.fifo
pids=()
cleanup() {
    stop_asfcast "$d/asfcast.pid"
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
port=$(start_asfcast "$d/asfcast.log" "$d/asfcast.pid" --preset "$d/preset.yaml" --archive "$d/archive.wmv" \
       --pull 127.0.0.1:0 --duration 12 --commands "$fifo" --captions "$d/captions.srt@2" \
       --media-clock-file "$d/media.clock")
asfcast_pid=$(cat "$d/asfcast.pid")
url="mmsh://127.0.0.1:$port/"
sleep 0.5
curl -s -o "$d/pull.body" -H "User-Agent: NSPlayer/9.0.0.2980" -H "Pragma: xPlayStrm=1" --max-time 40 \
    "http://127.0.0.1:$port/" &
curl_pid=$!
timeout 40 ffprobe -v error -select_streams d -show_packets -show_data -of json "$url" > "$d/ffprobe-mmsh.json" 2> "$d/ffprobe-mmsh.err" &
ffprobe_pid=$!
timeout 40 "$MMS_CLIENT" "$url" 100000000 "$d/libmms.asf" > "$d/libmms.log" 2>&1 &
libmms_pid=$!
pids+=("$curl_pid" "$ffprobe_pid" "$libmms_pid")

mono_us() { python3 -c 'import time; print(time.monotonic_ns() // 1000)'; }
origin() { sed -n 's/^origin_us \([0-9]*\)$/\1/p' "$d/media.clock"; }
for _ in $(seq 1 50); do [ -s "$d/media.clock" ] && break; sleep 0.1; done
[ -s "$d/media.clock" ] || fail "no media clock file"
# Each live send is stamped with the capture clock's media time when it was sent (ms).
send_live() {  # NAME asfcast-subcommand args...
    local name=$1 before after
    shift
    before=$(mono_us)
    "$ASFCAST" "$@" || fail "asfcast $* failed"
    after=$(mono_us)
    echo "$name $(( (before - $(origin)) / 1000 )) $(( (after - $(origin)) / 1000 ))" >> "$d/sent.txt"
}
# Scheduled ones first (their times are ahead), then the live ones.
printf '%s\n' "@6 URL http://example.com/six" "@7.5 EVENT seven-five" "@00:00:08.000 MyType custom value" "bogus!line" > "$fifo"
sleep 2.5
send_caption() {  # straight into the FIFO (a shell builtin: no process start in the window)
    local before after
    before=$(mono_us)
    printf 'CAPTION %s\n' "$1" > "$fifo"
    after=$(mono_us)
    echo "live-caption $(( (before - $(origin)) / 1000 )) $(( (after - $(origin)) / 1000 ))" >> "$d/sent.txt"
}
send_caption "Live hello é"
send_live command-check command --commands "$fifo" TEXT "via asfcast command"
sleep 0.6
send_live keynote marker --commands "$fifo" "Keynote"
sleep 3
send_live qa marker --commands "$fifo" "Q&A"

wait "$curl_pid" || fail "curl did not get the whole Play body (exit $?)"
wait "$ffprobe_pid" || fail "ffprobe on $url failed: $(head -5 "$d/ffprobe-mmsh.err")"
rc=0
wait "$libmms_pid" || rc=$?
[ "$rc" = 0 ] || [ "$rc" = 3 ] || fail "libmms client exit $rc: $(cat "$d/libmms.log")"
for _ in $(seq 1 100); do kill -0 "$asfcast_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$asfcast_pid" 2>/dev/null && fail "asfcast still runs after --duration 12"
trap - EXIT

# ---- the errors were reported with their lines, and the broadcast went on ----
grep -q "captions $d/captions.srt:6: expected a timing line 'HH:MM:SS,mmm --> HH:MM:SS,mmm', got '00:00:02,500 -> 00:00:03,000'; the cue is skipped" \
    "$d/asfcast.log" || fail "the malformed cue was not reported with its line number"
grep -q "commands line 4: expected a command type .*got 'bogus!line'; ignored" "$d/asfcast.log" ||
    fail "the bad command line was not reported with its line number"
note "reported: $(grep -o "captions $d/captions.srt:6: .*" "$d/asfcast.log")"
note "reported: $(grep -o "commands line 4: .*" "$d/asfcast.log")"
grep -q "done: .* 12.0 s$" "$d/asfcast.log" || fail "the broadcast did not run its 12 s: $(grep done: "$d/asfcast.log")"
other=$(grep -E " (error|warn|critical) " "$d/asfcast.log" | grep -v -e "captions $d/captions.srt:6:" -e "commands line 4:" || true)
[ -z "$other" ] || fail "asfcast logged other errors: $other"

# ---- the expected commands (ms; the live caption at the time it was sent) ----
live=$(awk '$1 == "live-caption" { print $2, $3 }' "$d/sent.txt")
cmdcheck=$(awk '$1 == "command-check" { print $2, $3 }' "$d/sent.txt")
cat > "$d/expected.txt" <<EOF
3000 CAPTION First caption
4000 CAPTION
$(awk '{ print $1 }' <<<"$live") CAPTION Live hello é
$(awk '$1 == "command-check" { print $2 }' "$d/sent.txt") TEXT via asfcast command
5500 CAPTION Third caption & more
6000 CAPTION
6000 URL http://example.com/six
7500 EVENT seven-five
8000 MyType custom value
EOF
sort -n -s -k1,1 "$d/expected.txt" -o "$d/expected.txt"
# Compares a list of "ms TYPE parameter" lines against the expected ones: same commands in the same
# order (the live caption's window is [sent, sent + FIFO delivery]); times within one frame (34 ms).
# A late joiner may miss the first ones. Usage: check_commands NAME FILE
check_commands() {
    python3 - "$1" "$2" "$d/expected.txt" "$live" "$cmdcheck" <<'PY'
import sys
name, got_file, exp_file, live, cmdcheck = sys.argv[1:6]
live_lo, live_hi = map(int, live.split())
cmd_lo, cmd_hi = map(int, cmdcheck.split())
def parse(path):
    out = []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line:
            continue
        parts = line.split(" ", 2)
        out.append((int(parts[0]), parts[1], parts[2] if len(parts) > 2 else ""))
    return out
got, exp = parse(got_file), parse(exp_file)
if not got:
    sys.exit(f"{name}: no commands")
start = len(exp) - len(got)
if start < 0:
    sys.exit(f"{name}: {len(got)} commands, more than the {len(exp)} sent: {got}")
worst = 0
for (gt, gty, gp), (et, ety, ep) in zip(got, exp[start:]):
    if (gty, gp) != (ety, ep):
        sys.exit(f"{name}: got {gty} '{gp}', expected {ety} '{ep}' (in order)")
    if gp == "Live hello é":
        lo, hi = live_lo - 34, live_hi + 34
        if not lo <= gt <= hi:
            sys.exit(f"{name}: the live caption is at {gt} ms; it was sent between {live_lo} and {live_hi} ms")
        continue
    if gp == "via asfcast command":
        if not cmd_lo - 34 <= gt <= cmd_hi + 34:
            sys.exit(f"{name}: the command sent by asfcast command is at {gt} ms; it ran from {cmd_lo} to {cmd_hi} ms")
        continue
    worst = max(worst, abs(gt - et))
    if abs(gt - et) > 34:
        sys.exit(f"{name}: {gty} '{gp}' at {gt} ms, expected {et} ms (more than a frame off)")
print(f"-- {name}: {len(got)} commands (from #{start + 1} of {len(exp)}), scheduled ones at most {worst} ms off, "
      f"the live caption at {[g[0] for g in got if g[2] == 'Live hello é']} ms (sent {live_lo}..{live_hi} ms: "
      f"{[g[0] - live_lo for g in got if g[2] == 'Live hello é']} ms after the send began)")
PY
}
# ffprobe's data packets (pts_time, the two UTF-16LE strings in "data") -> "ms TYPE parameter".
ffprobe_commands() {  # JSON OUT
    python3 - "$1" > "$2" <<'PY' || fail "cannot read ffprobe's packets from $1"
import json, re, sys
for p in json.load(open(sys.argv[1])).get("packets", []):
    if p.get("codec_type") != "data":
        continue
    raw = bytes.fromhex("".join(re.findall(r"^[0-9a-f]{8}: ((?:[0-9a-f]{4} ?)+)", p["data"], re.M)).replace(" ", ""))
    s = raw.decode("utf-16-le")
    t, param, rest = s.split("\0", 2)
    assert rest == "", s
    print(round(float(p["pts_time"]) * 1000), t, param)
PY
}
inspect_commands() {  # FILE OUT: commands in command streams as asfcast inspect reads them
    timeout 60 "$ASFCAST" inspect --json "$1" > "$2.json" || fail "asfcast inspect $1 failed"
    python3 -c 'import json,sys
for c in json.load(open(sys.argv[1]))["stream_commands"]: print(c["pts_ms"], c["type"], c["parameter"])' "$2.json" > "$2" ||
        fail "no stream_commands in inspect's output"
}

ffprobe_commands "$d/ffprobe-mmsh.json" "$d/ffmpeg-mmsh.txt"
check_commands "ffmpeg's mmsh client (ffprobe mmsh://)" "$d/ffmpeg-mmsh.txt" || fail "ffmpeg's mmsh client"
timeout 60 ffprobe -v error -select_streams d -show_packets -show_data -of json "$d/libmms.asf" > "$d/libmms.json" ||
    fail "ffprobe cannot read libmms's capture"
ffprobe_commands "$d/libmms.json" "$d/libmms.txt"
# libmms asks for its one audio and one video stream and turns every other stream off
# ("ffff:N:2", thinning level 2, MS-WMSP 2.2.1.4.27): asfcast honours that, so its capture carries
# no command, yet still decodes.
[ ! -s "$d/libmms.txt" ] || fail "libmms turned the command stream off (ffff:N:2) but got commands: $(head -3 "$d/libmms.txt")"
libmms_frames=$(count_frames "$d/libmms.asf" v)
[ "$libmms_frames" -gt 100 ] || fail "libmms's capture has only $libmms_frames video frames"
note "libmms (its capture read by ffprobe): the command stream turned off by its Play (ffff:N:2): no commands, $libmms_frames video frames"
"$WMSP_TO_ASF" "$d/pull.body" "$d/pull.asf" > /dev/null || fail "wmsp_to_asf could not convert the pull capture"
inspect_commands "$d/pull.asf" "$d/pull.txt"
check_commands "a raw Play capture (curl) read by asfcast inspect" "$d/pull.txt" || fail "pull capture"
timeout 60 ffprobe -v error -select_streams d -show_packets -show_data -of json "$d/archive.wmv" > "$d/archive.json" ||
    fail "ffprobe cannot read the archive"
ffprobe_commands "$d/archive.json" "$d/archive-ffprobe.txt"
check_commands "the archive, ffprobe" "$d/archive-ffprobe.txt" || fail "archive (ffprobe)"
[ "$(wc -l < "$d/archive-ffprobe.txt")" = "$(wc -l < "$d/expected.txt")" ] || fail "the archive lacks commands"
inspect_commands "$d/archive.wmv" "$d/archive-inspect.txt"
check_commands "the archive, asfcast inspect" "$d/archive-inspect.txt" || fail "archive (inspect)"

# ---- the archive's header lists them: Script Command Object and Marker Object ----
python3 - "$d/archive-inspect.txt.json" "$d/archive-inspect.txt" <<'PY' || fail "the archive's header does not list the commands"
import json, sys
j = json.load(open(sys.argv[1]))
listed = [f'{c["pts_ms"]} {c["type"]} {c["parameter"]}'.rstrip() for c in j["script_commands"]]
carried = [l.rstrip("\n").rstrip() for l in open(sys.argv[2], encoding="utf-8")]
assert listed == carried, (listed, carried)
print(f"-- the archive's Script Command Object lists the {len(listed)} commands of its command stream, same times")
PY
timeout 60 ffprobe -v error -show_chapters -of json "$d/archive.wmv" > "$d/chapters.json" || fail "ffprobe -show_chapters failed"
python3 - "$d/chapters.json" "$d/sent.txt" "$d/archive-inspect.txt.json" <<'PY' || fail "the markers are not right"
import json, sys
chapters = json.load(open(sys.argv[1]))["chapters"]
sent = {l.split()[0]: (int(l.split()[1]), int(l.split()[2])) for l in open(sys.argv[2])}
markers = json.load(open(sys.argv[3]))["markers"]
assert [c["tags"]["title"] for c in chapters] == ["Keynote", "Q&A"], chapters
assert [m["name"] for m in markers] == ["Keynote", "Q&A"], markers
for c, key in zip(chapters, ["keynote", "qa"]):
    t = round(float(c["start_time"]) * 1000)
    lo, hi = sent[key]
    assert lo - 34 <= t <= hi + 34, (c["tags"]["title"], t, lo, hi)
print("-- markers (ffprobe -show_chapters): " + ", ".join(f'{c["tags"]["title"]} at {float(c["start_time"]):.3f} s' for c in chapters) +
      " (sent at " + ", ".join(f"{sent[k][0]}..{sent[k][1]} ms" for k in ["keynote", "qa"]) + ")")
PY

# ---- VLC and MPlayer: do they show script-command captions? ----
chmod 0644 "$d/archive.wmv"
timeout 60 setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp cvlc -I dummy --no-dbus --aout dummy \
    --vout dummy -vv --play-and-exit "$d/archive.wmv" > "$d/vlc.log" 2>&1 || fail "VLC did not play the archive"
grep -q "ignoring unknown stream(ID:3)" "$d/vlc.log" || fail "VLC's log does not say what it did with the command stream"
note "VLC: 'ignoring unknown stream(ID:3)' (the command stream), $(grep -c "unknown asf object (not loaded): 0x1efb1a30" "$d/vlc.log") Script Command Object skipped: no script-command captions"
timeout 60 mplayer -nolirc -vo null -ao null -v "$d/archive.wmv" > "$d/mplayer.log" 2>&1 || fail "MPlayer did not play the archive"
grep -q "stream type: unknown guid c0cfda59-e659-d011-a3ac00a0c90348f6" "$d/mplayer.log" ||
    fail "MPlayer's log does not say what it did with the command stream"
grep -q "Exiting... (End of file)" "$d/mplayer.log" || fail "MPlayer did not play to the end"
note "MPlayer: 'stream type: unknown guid c0cfda59-...' (Command Media): the command stream is not read: no script-command captions"
