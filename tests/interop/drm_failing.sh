#!/usr/bin/env bash
# A packager that fails mid-broadcast (issue 13): fake_packager (the reference PlayReady packager
# as a program, tests/drm) crashes (SIGABRT), answers ERROR, or sleeps past its 300 ms deadline
# after 150 media objects. Each time asfcast stops the protected broadcast with the packager's
# reason, every output ends (the pull client gets $E, the push target $E, the archive is finalized
# and readable), and nothing clear was ever written or sent: clear_scan looks for the clear run's
# media in every byte of the archive, the pull capture and the push capture; what was sent
# decrypts with the key to media ffmpeg decodes with no error.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
source "$(dirname "$0")/drm_lib.sh"
FAKE_PACKAGER=${FAKE_PACKAGER:?FAKE_PACKAGER must point at fake_packager}

d=$WORK/drm-failing
rm -rf "$d"
mkdir -p "$d"
make_source "$d/source.mkv" 10
{ echo "name: drm-clear"; media_preset; } > "$d/clear.yaml"
timeout 120 "$ASFCAST" --log-level warn run --preset "$d/clear.yaml" --input "$d/source.mkv" --archive "$d/clear.wmv" \
    --pull off > "$d/clear.log" 2>&1 || fail "the clear run failed: $(tail -5 "$d/clear.log")"
clear_objects "$d/clear.wmv" "$d/clear"
header_of "$d/clear.wmv" "$d/clear.header"
printf '%s\n' "$DRM_KEY" > "$d/content.key"
chmod 600 "$d/content.key"

run_failing() {  # MODE EXPECTED-REASON
    local mode=$1 reason=$2 m=$d/$1
    mkdir -p "$m"
    { echo "name: drm-$mode"; media_preset; cat <<YAML
drm:
  packager: program
  program: [$FAKE_PACKAGER, --mode, $mode, --after, "150", --delay-ms, "5000"]
  deadline_ms: 300
  config: |
    kid=$DRM_KID
    key_file=$d/content.key
    la_url=$DRM_LA_URL
YAML
    } > "$m/preset.yaml"
    pids=()
    start_receiver "$m" 60
    pids+=("$RX_PID")
    local port start elapsed rc
    start=$(date +%s%N)
    port=$(start_asfcast "$m/asfcast.log" "$m/asfcast.pid" --preset "$m/preset.yaml" --input "$d/source.mkv" \
           --archive "$m/archive.wmv" --pull 127.0.0.1:0 --push "http://127.0.0.1:$RX_PORT/live")
    curl -s -o "$m/pull.body" -H "User-Agent: NSPlayer/9.0.0.2980" -H "Pragma: xPlayStrm=1" --max-time 30 \
        "http://127.0.0.1:$port/" &
    pids+=("$!")
    local asfcast_pid
    asfcast_pid=$(cat "$m/asfcast.pid")
    for _ in $(seq 1 300); do kill -0 "$asfcast_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$asfcast_pid" 2>/dev/null && { stop_asfcast "$m/asfcast.pid"; fail "$mode: asfcast still runs 30 s later"; }
    elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
    wait "${pids[1]}" || fail "$mode: curl did not get a whole Play body (exit $?)"
    rc=0
    wait "$RX_PID" || rc=$?
    [ "$rc" = 0 ] || { cat "$m/receiver.log" >&2; fail "$mode: the strict receiver saw violations or no \$E"; }

    grep -q "drm: packager program $FAKE_PACKAGER: $reason; the protected broadcast stops here" "$m/asfcast.log" ||
        { tail -20 "$m/asfcast.log" >&2; fail "$mode: asfcast did not say the packager failed with '$reason'"; }
    grep -q "fake_packager: failing ($mode) at object 151" "$m/asfcast.log" || fail "$mode: the packager did not fail at object 151"
    [ "$(tail -c 8 "$m/pull.body" | od -An -tx1 | tr -d ' \n')" = 2445040000000000 ] ||
        fail "$mode: the pull client did not get \$E reason 0"
    key_not_in "$m/asfcast.log" "$m/receiver.log"
    timeout 60 "$ASFCAST" inspect "$m/archive.wmv" > "$m/inspect.txt" || fail "$mode: the archive cannot be read"
    grep -q "flags seekable" "$m/inspect.txt" || fail "$mode: the archive was not finalized"

    header_of "$m/archive.wmv" "$m/protected.header"
    "$WMSP_TO_ASF" "$m/pull.body" "$m/pull.asf" > /dev/null || fail "$mode: wmsp_to_asf could not convert the pull capture"
    local out
    out=$("$CLEAR_SCAN" --reference "$d/clear.video" "$d/clear.audio" --exclude "$d/clear.header" "$m/protected.header" \
          --scan "$m/archive.wmv" "$m/pull.body" "$m/push.wire" "$m/push.asf" 2>&1) || fail "$mode: clear media found: $out"
    local r src media_ms
    for src in archive pull push; do
        local in=$m/$src.asf
        [ "$src" = archive ] && in=$m/archive.wmv
        r=$("$DRM_DECRYPT" "$in" "$m/$src.dec.asf" --key "$DRM_KEY" 2>&1) || fail "$mode: drm_decrypt $src: $r"
        [ "$(sed -n 's/.*payloads=\([0-9]*\).*/\1/p' <<<"$r")" = "$(sed -n 's/.*decrypted=\([0-9]*\).*/\1/p' <<<"$r")" ] ||
            fail "$mode: $src has payloads that are not encrypted: $r"
        ffmpeg_decodes_clean "$m/$src.dec.asf"
    done
    media_ms=$(sed -n 's/.*done: .* packets, \([0-9.]*\) s$/\1/p' "$m/asfcast.log")
    # From the failure to the push target's $E and the pull connection's end, by the log's clock.
    local t_fail t_push t_pull
    ms_of() { awk '{ split($2, t, ":"); printf "%d\n", (t[1] * 3600 + t[2] * 60 + t[3]) * 1000 }' <<<"$1"; }
    t_fail=$(ms_of "$(grep -m1 "drm: packager program" "$m/asfcast.log")")
    t_push=$(ms_of "$(grep -m1 'end of stream sent (\$E)' "$m/asfcast.log")")
    t_pull=$(ms_of "$(grep -m1 'pull: connection 1 .* closed after' "$m/asfcast.log")")
    [ $((t_push - t_fail)) -le 1000 ] && [ $((t_pull - t_fail)) -le 1000 ] ||
        fail "$mode: the outputs ended $((t_push - t_fail)) ms (push) and $((t_pull - t_fail)) ms (pull) after the failure"
    note "$mode: push \$E $((t_push - t_fail)) ms and the pull connection's end $((t_pull - t_fail)) ms after the failure"
    note "$mode: stopped $elapsed ms after start (media ${media_ms} s of 10) with: $(grep -o "drm: packager program .*" "$m/asfcast.log" | head -1)"
    note "$mode: $(tail -1 <<<"$out"); archive, pull and push decrypt to media ffmpeg decodes without an error; \$E to pull and push"
}

run_failing crash "closed its output without answering PROTECT; it was killed by signal 6 (Aborted)"
run_failing error "reported an error: refused on purpose; it was stopped (SIGKILL)"
run_failing slow "did not answer PROTECT within its deadline of 300 ms; it was stopped (SIGKILL)"
