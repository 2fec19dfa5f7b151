#!/usr/bin/env bash
# The source goes away mid-broadcast and comes back: a file source (on_loss: slate) is deleted while
# it plays, ends, cannot be reopened for a while (the slate is on air), then is put back and plays
# again. An ffmpeg mmsh:// client pulls the whole broadcast live; it and the archive must decode
# cleanly from start to end, with no gap or step back in video or audio time, the slate's still
# picture in the middle and moving pictures on both sides.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"

dir=$WORK/source-loss
rm -rf "$dir"
mkdir -p "$dir"
timeout 60 ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=640x360:rate=30 \
    -f lavfi -i sine=frequency=440:sample_rate=44100 -t 4 -c:v libx264 -preset ultrafast -g 30 \
    -c:a aac -shortest "$dir/clip.mp4"
cp "$dir/clip.mp4" "$dir/in.mp4"
cat > "$dir/loss.yaml" <<YAML
base: default
source: {type: file, path: $dir/in.mp4, on_loss: slate, loss_timeout_ms: 500, reattach_interval_ms: 500,
         slate_text: Back in a moment}
video: {width: 640, height: 360, bitrate_kbps: 800, max_bitrate_kbps: 800, vbv_buffer_kbit: 800,
        keyframe_interval_s: 1, x264_preset: ultrafast}
audio: {codec: wma2, bitrate_kbps: 96}
YAML

log=$dir/run.log
port=$(start_asfcast "$log" "$dir/pid" --preset "$dir/loss.yaml" --duration 15 --archive "$dir/out.asf" \
       --pull 127.0.0.1:0)
# A live client from the first second to the end ($E).
timeout 60 ffmpeg -nostdin -v error -y -i "mmsh://127.0.0.1:$port/" -c copy -f asf "$dir/pulled.asf" \
    > "$dir/pull.log" 2>&1 &
client=$!
sleep 1
rm "$dir/in.mp4"          # still open by the pipeline: plays to its end (4 s), then cannot be reopened
sleep 8
cp "$dir/clip.mp4" "$dir/in.mp4"   # back (media time about 8.5-9 s): the next re-attach attempt plays it again
pid=$(cat "$dir/pid")
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && { stop_asfcast "$dir/pid"; fail "asfcast did not end after --duration 15"; }
wait "$pid" 2>/dev/null || true
wait "$client" || true

grep -q "source lost (the source ended)" "$log" || fail "no loss logged: $(tail -20 "$log")"
grep -q "the source cannot start yet: input file not found" "$log" || fail "no failed re-attach logged"
grep -q "the source is back" "$log" || fail "the source never came back: $(grep capture: "$log" | tail -5)"
grep -q "source: stopped, lost [0-9]x, back [1-9]x" "$log" || fail "no source summary: $(tail -5 "$log")"
note "$(grep -E 'source lost|is back|source: stopped' "$log" | cut -c25- | head -6)"

# ffmpeg's mmsh client prints "Stream ended!" at $E and its failed reads after it (as in
# pull_end.sh); nothing else is allowed.
pull_err=$(grep -v -E "^Stream ended!$|Stream ends prematurely|^Read data packet header failed!$|^Recv other type packet -5$|Invalid data found when processing input$" \
           "$dir/pull.log" || true)
[ -z "$pull_err" ] || fail "the live client reported: $pull_err"
grep -q "^Stream ended!$" "$dir/pull.log" || fail "the live client did not get to the end (\$E)"

for f in "$dir/out.asf" "$dir/pulled.asf"; do
    ffmpeg_decodes_clean "$f"
    # Video: on the 30 fps grid (33 ms apart, whole-ms times); audio: each frame starts where the last ended.
    timeout 60 ffprobe -v error -select_streams v:0 -show_entries frame=best_effort_timestamp_time \
        -of default=nw=1:nk=1 "$f" > "$dir/vt"
    timeout 60 ffprobe -v error -select_streams a:0 -show_entries frame=best_effort_timestamp_time \
        -of default=nw=1:nk=1 "$f" > "$dir/at"
    awk '$1 == "N/A" { next } NR > 1 { d = $1 - p; if (d < 0.025 || d > 0.042) { print "video time jumps " p " -> " $1; bad = 1 } }
         { p = $1 } END { exit bad }' "$dir/vt" || fail "$f: video time line broken"
    # WMA2 frames are 2048 samples (46.4 ms at 44.1 kHz); ASF times are whole milliseconds.
    awk '$1 == "N/A" { next } NR > 1 { d = $1 - p; if (d < 0.045 || d > 0.048) { print "audio jumps " p " -> " $1; bad = 1 } }
         { p = $1 } END { exit bad }' "$dir/at" || fail "$f: audio time line broken"
    note "$f: $(wc -l < "$dir/vt") video frames, $(wc -l < "$dir/at") audio frames, gapless"
done

# The picture: moving before the loss, the slate while lost (its colour bars: white at the top
# left, blue at the top right), moving again after the return.
timeout 120 ffmpeg -nostdin -v error -i "$dir/out.asf" -map 0:v -f framemd5 -enc_time_base 1/1000 "$dir/frames.md5"
tb=$(sed -n 's|^#tb 0: 1/\([0-9]*\)$|\1|p' "$dir/frames.md5")
[ -n "$tb" ] || fail "framemd5 has no time base"
awk -F, -v tb="$tb" '!/^#/ { gsub(/ /, ""); print $3 / tb " " $6 }' "$dir/frames.md5" > "$dir/frames"   # time_s md5
distinct() { awk -v a="$1" -v b="$2" '$1 >= a && $1 < b { print $2 }' "$dir/frames" | sort -u | wc -l; }
timeout 120 ffmpeg -nostdin -v error -i "$dir/out.asf" -filter_complex \
    "[0:v]split[a][b];[a]crop=40:40:10:10,signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=$dir/left.txt,nullsink;
     [b]crop=40:40:590:10,signalstats,metadata=print:key=lavfi.signalstats.UAVG:file=$dir/right.txt,nullsink" -f null - \
    || fail "ffmpeg signalstats failed"
paste <(grep -o "pts_time:[0-9.]*" "$dir/left.txt" | cut -d: -f2) <(grep -o "YAVG=[0-9.]*" "$dir/left.txt" | cut -d= -f2) \
      <(grep -o "UAVG=[0-9.]*" "$dir/right.txt" | cut -d= -f2) > "$dir/bars"   # time Y(left) U(right)
slates() { awk -v a="$1" -v b="$2" '$1 >= a && $1 < b && $2 > 200 && $3 > 200' "$dir/bars" | wc -l; }
frames_in() { awk -v a="$1" -v b="$2" '$1 >= a && $1 < b' "$dir/bars" | wc -l; }
before=$(distinct 1.5 3.5)
after=$(distinct 10.5 12.5)
note "before the loss: $before distinct pictures, $(slates 1.5 3.5) slates; while lost: $(slates 5 7) slates" \
     "of $(frames_in 5 7) frames; after the return: $after distinct, $(slates 10.5 12.5) slates"
[ "$before" -ge 50 ] && [ "$(slates 1.5 3.5)" -eq 0 ] || fail "the picture before the loss is not the moving source"
[ "$(frames_in 5 7)" -ge 55 ] && [ "$(slates 5 7)" -eq "$(frames_in 5 7)" ] ||
    fail "the slate is not on air while the source is lost"
[ "$after" -ge 50 ] && [ "$(slates 10.5 12.5)" -eq 0 ] || fail "the picture after the return is not the moving source"
note "source loss and return: OK"
