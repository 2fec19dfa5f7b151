#!/usr/bin/env bash
# A broadcast protected by the reference PlayReady packager (issue 13), against a clear run of the
# same input:
#  - `asfcast inspect` and ffprobe see the protection (PlayReady Protection System Identifier
#    Object with the WRMHEADER's KID and LA_URL, every stream encrypted with an 8-byte sample ID);
#  - the archive, a pulled stream (curl's capture of the Play body, and libmms), and a pushed
#    stream (the strict MS-WMHTTP receiver's wire capture and file) hold no clear media: clear_scan
#    looks for every 32-byte window of the clear run's media objects (ffmpeg extracts them) in every
#    byte captured, and first shows it finds them in the clear archive;
#  - decrypting with the test's key (drm_decrypt, written from the specs; one object also with the
#    openssl command) gives payloads that ffmpeg decodes with no error, frame for frame (MD5 per
#    frame, video and audio) equal to the clear run's;
#  - the content key appears in no log.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
source "$(dirname "$0")/drm_lib.sh"
MMS_CLIENT=${MMS_CLIENT:?MMS_CLIENT must point at the libmms test client}

d=$WORK/drm-protected
rm -rf "$d"
mkdir -p "$d"
make_source "$d/source.mkv" 14
# Captions in both runs: under the protected header the command stream is encrypted too.
printf '1\n00:00:02,000 --> 00:00:03,000\nProtected caption\n\n2\n00:00:05,000 --> 00:00:06,000\nSecond one\n' \
    > "$d/captions.srt"

# ---- the clear run (the reference), in real time like the protected one ----
{ echo "name: drm-clear"; media_preset; } > "$d/clear.yaml"
timeout 120 "$ASFCAST" --log-level warn run --preset "$d/clear.yaml" --input "$d/source.mkv" --captions "$d/captions.srt" \
    --archive "$d/clear.wmv" --pull off > "$d/clear.log" 2>&1 || fail "the clear run failed: $(tail -5 "$d/clear.log")"
framemd5 "$d/clear.wmv" "$d/clear.md5"
clear_objects "$d/clear.wmv" "$d/clear"
header_of "$d/clear.wmv" "$d/clear.header"

# ---- the protected run: archive, pull (curl + libmms) and push, in real time ----
printf '%s\n' "$DRM_KEY" > "$d/content.key"
chmod 600 "$d/content.key"
{ echo "name: drm-protected"; media_preset; cat <<YAML
drm:
  packager: playready
  kid: $DRM_KID
  key_file: $d/content.key
  la_url: "$DRM_LA_URL"
YAML
} > "$d/protected.yaml"

pids=()
cleanup() {
    stop_asfcast "$d/asfcast.pid"
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
start_receiver "$d" 60
pids+=("$RX_PID")
rxport=$RX_PORT
port=$(start_asfcast "$d/asfcast.log" "$d/asfcast.pid" --preset "$d/protected.yaml" --input "$d/source.mkv" --captions "$d/captions.srt" \
       --archive "$d/archive.wmv" --pull 127.0.0.1:0 --push "http://127.0.0.1:$rxport/live")
asfcast_pid=$(cat "$d/asfcast.pid")
sleep 1
curl -s -o "$d/pull.body" -H "User-Agent: NSPlayer/9.0.0.2980" -H "Pragma: xPlayStrm=1" --max-time 60 \
    "http://127.0.0.1:$port/" &
curl_pid=$!
timeout 60 "$MMS_CLIENT" "mmsh://127.0.0.1:$port/" 100000000 "$d/libmms.asf" > "$d/libmms.log" 2>&1 &
libmms_pid=$!
pids+=("$curl_pid" "$libmms_pid")
wait "$curl_pid" || fail "curl did not get the whole Play body (exit $?)"
rc=0
wait "$libmms_pid" || rc=$?
[ "$rc" = 0 ] || [ "$rc" = 3 ] || fail "libmms client exit $rc: $(cat "$d/libmms.log")"
for _ in $(seq 1 100); do kill -0 "$asfcast_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$asfcast_pid" 2>/dev/null && fail "asfcast still runs after the end of its input"
wait "$RX_PID" || { cat "$d/receiver.log" >&2; fail "the strict receiver saw violations or no \$E"; }
trap - EXIT
if grep -E " (error|critical) " "$d/asfcast.log"; then fail "asfcast logged errors"; fi
grep -q "drm: packager reference PlayReady: PlayReady (reference packager) AES-128-CTR, WRMHEADER 4.0.0.0, KID ${DRM_KID^^}" \
    "$d/asfcast.log" || fail "asfcast did not log the packager, its KID and LA_URL"
key_not_in "$d/asfcast.log" "$d/receiver.log" "$d/libmms.log" "$d/clear.log"
note "receiver: $(tail -1 "$d/receiver.log")"

# ---- 1. the protection as asfcast inspect and ffprobe see it ----
timeout 60 "$ASFCAST" inspect --json "$d/archive.wmv" > "$d/inspect.json" || fail "asfcast inspect failed"
python3 - "$d/inspect.json" "$DRM_KID" "$DRM_LA_URL" <<'PY' || fail "inspect: the protection is not as written"
import json, sys
j = json.load(open(sys.argv[1])); kid = sys.argv[2].upper(); url = sys.argv[3]
p = j["protection"]
assert len(p) == 1 and p[0]["system"] == "PlayReady" and p[0]["version"] == 1, p
w = p[0]["wrmheader"]
assert w["version"] == "4.0.0.0" and w["kids"] == [kid] and w["algid"] == "AESCTR" and w["la_url"] == url, w
assert len(w["checksum"]) == 12, w
assert [s["type"] for s in j["streams"]] == ["video", "audio", "command"], j["streams"]
assert [c["encrypted"] for c in j["stream_commands"]] == [True] * 4, j["stream_commands"]
for s in j["streams"]:
    assert s["encrypted"], s
    assert [e["system"] for e in s["payload_extensions"]] == ["Encryption Sample ID"], s
    assert s["payload_extensions"][0]["data_size"] == 8, s
print("-- inspect: PlayReady object, WRMHEADER %s KID %s CHECKSUM %s LA_URL %s; streams %s encrypted with 8-byte sample IDs"
      % (w["version"], w["kids"][0], w["checksum"], w["la_url"], [s["number"] for s in j["streams"]]))
PY
psi_size=$(python3 -c 'import json,sys; print([o["size"] for o in json.load(open(sys.argv[1]))["objects"] if o["name"] == "Protection System Identifier"][0])' "$d/inspect.json")
timeout 60 ffprobe -v debug "$d/archive.wmv" > "$d/ffprobe-debug.log" 2>&1 || true
exts=$(grep -c "Payload extension 4e 8" "$d/ffprobe-debug.log" || true)
[ "$exts" -ge 1 ] || fail "ffprobe did not read the Encryption Sample ID payload extensions"
grep -q "gpos mismatch our pos=24, end=$psi_size$" "$d/ffprobe-debug.log" ||
    fail "ffprobe did not walk the $psi_size-byte Protection System Identifier Object"
note "ffprobe -v debug: the payload extension system 6698B84E (8 bytes) read for the streams ('Payload extension 4e 8'), the ${psi_size}-byte protection object skipped by its size"
if timeout 60 ffmpeg -nostdin -v error -xerror -i "$d/archive.wmv" -map 0:v -f null - > /dev/null 2>&1; then
    fail "ffmpeg decoded the protected archive's video without an error: it is not encrypted"
fi
note "ffmpeg cannot decode the protected archive (as it should not)"

# ---- 2. no clear media anywhere: every byte of every capture ----
header_of "$d/archive.wmv" "$d/protected.header"
out=$("$CLEAR_SCAN" --reference "$d/clear.video" "$d/clear.audio" --exclude "$d/clear.header" "$d/protected.header" \
      --scan "$d/clear.wmv" --expect-found) || fail "clear_scan cannot see the clear archive's media: $out"
note "control: clear_scan finds the clear run's media in its archive: $(tail -1 <<<"$out")"
"$WMSP_TO_ASF" "$d/pull.body" "$d/pull.asf" > /dev/null || fail "wmsp_to_asf could not convert the pull capture"
out=$("$CLEAR_SCAN" --reference "$d/clear.video" "$d/clear.audio" --exclude "$d/clear.header" "$d/protected.header" \
      --scan "$d/archive.wmv" "$d/pull.body" "$d/libmms.asf" "$d/push.wire" "$d/push.asf" 2>&1) ||
    fail "clear media found: $out"
echo "$out" | sed 's/^/-- clear_scan: /'
scanned=$(sed -n 's/.*scanned_bytes=\([0-9]*\).*/\1/p' <<<"$out")
[ "$scanned" -gt 3000000 ] || fail "only $scanned bytes were scanned"

# ---- 3. decrypted with the key: what ffmpeg decodes equals the clear run, frame for frame ----
dec() {  # IN OUT
    local r
    r=$("$DRM_DECRYPT" "$1" "$2" --key "$DRM_KEY" 2>&1) || fail "drm_decrypt $1: $r"
    echo "$r"
}
r=$(dec "$d/archive.wmv" "$d/archive.dec.wmv")
note "archive: $r"
grep -q "encrypted_streams=1,2,3," <<<"$r" || fail "not every stream of the archive is encrypted: $r"
[ "$(sed -n 's/.*payloads=\([0-9]*\).*/\1/p' <<<"$r")" = "$(sed -n 's/.*decrypted=\([0-9]*\).*/\1/p' <<<"$r")" ] ||
    fail "the archive has payloads that are not encrypted: $r"
framemd5 "$d/archive.dec.wmv" "$d/archive.md5"
cmp -s <(grep -v '^#' "$d/clear.md5") <(grep -v '^#' "$d/archive.md5") ||
    fail "the decrypted archive's frames differ from the clear run's"
note "archive: decrypted, $(grep -c '^0,' "$d/archive.md5") video and $(grep -c '^1,' "$d/archive.md5") audio frames identical to the clear run"
# The script commands too: ffprobe's data packets of the decrypted archive are the clear run's.
commands_of() { timeout 60 ffprobe -v error -select_streams d -show_entries packet=pts_time,data -show_data -of compact "$1"; }
commands_of "$d/clear.wmv" > "$d/clear.commands"
commands_of "$d/archive.dec.wmv" > "$d/archive.commands"
[ "$(grep -c "pts_time" "$d/clear.commands")" = 4 ] || fail "the clear run has not 4 caption commands"
cmp -s "$d/clear.commands" "$d/archive.commands" || fail "the decrypted archive's script commands differ from the clear run's"
note "archive: its 4 caption commands, encrypted, decrypt to the clear run's (ffprobe: same times and bytes)"
for src in pull libmms push; do
    in="$d/$src.asf"
    r=$(dec "$in" "$d/$src.dec.asf")
    framemd5 "$d/$src.dec.asf" "$d/$src.md5"
    for s in 0 1; do
        m=$(frames_match "$d/clear.md5" "$d/$src.md5" "$s" 2>&1) || fail "$src stream $s: $m"
        read -r n first last total <<<"$m"
        note "$src: decrypted ($r); $([ "$s" = 0 ] && echo video || echo audio) frames $first..$last of the clear run's $total equal ($n frames)"
        [ "$last" = "$total" ] || fail "$src stream $s ends at frame $last of $total"
        if [ "$s" = 0 ] && [ "$n" -lt 200 ]; then fail "$src: only $n video frames"; fi
    done
done

# ---- 4. one media object through an independent AES-CTR: the openssl command ----
sid=$("$DRM_DECRYPT" "$d/archive.wmv" /dev/null --key "$DRM_KEY" --dump 1 "$d/object.enc" | sed -n 's/^sample_id //p')
[ -n "$sid" ] || fail "no object to dump"
openssl enc -d -aes-128-ctr -K "$DRM_KEY" -iv "${sid}0000000000000000" -in "$d/object.enc" -out "$d/object.dec" ||
    fail "openssl enc failed"
head -c 4 "$d/object.dec" | od -An -tx1 | grep -q "00 00 00 01" ||
    fail "openssl's decryption of the first whole video object is not an H.264 access unit (Annex B start code)"
grep -q -F "$(od -An -tx1 -N 32 "$d/object.dec" | tr -d ' \n')" <(od -An -tx1 -v "$d/clear.video" | tr -d ' \n') ||
    fail "openssl's decryption is not in the clear run's video"
note "openssl enc -aes-128-ctr -iv <sample id>||0 decrypts the first whole video object ($(stat -c %s "$d/object.enc") bytes) to the clear run's"
