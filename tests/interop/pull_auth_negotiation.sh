#!/usr/bin/env bash
# Authentication negotiated the way a distribution server does it (MS-WMSP 4.11, 3.2.5.1): the
# client (wmsp_auth_client.py, written from MS-WMSP, MS-NLMP and RFC 2617, no asfcast code) says
# User-Agent NSServer and "X-Accept-Authentication: Negotiate, NTLM, Digest".
# - auth: [ntlm]   -> one NTLM challenge kept on the connection, NTLMv2 (with a MIC under a
#                     key exchange), then Describe and Play on that connection; $H and $D arrive
#                     and ffmpeg decodes what was pulled. curl --ntlm (another NTLM client) pulls too.
# - auth: [digest] -> a Digest challenge only, Describe and Play answered with Digest; decoded.
# - auth: [basic]  -> 403 naming both lists, no challenge and no media byte.
# Wrong passwords are refused; no password reaches the log.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
CLIENT="python3 $(dirname "$0")/wmsp_auth_client.py"
PASSWORD='s3cret pass:x'

run_server() {  # run_server NAME AUTH -> port
    write_pull_preset "$WORK/auth-$1.yaml"
    cat >> "$WORK/auth-$1.yaml" <<YAML
outputs:
  pull:
    auth: $2
    realm: interop
    users: [{name: alice, password: "$PASSWORD"}]
YAML
    start_asfcast "$WORK/auth-$1.log" "$WORK/auth-$1.pid" --preset "$WORK/auth-$1.yaml" --pull 127.0.0.1:0 --duration 60
}

finish_server() {  # finish_server NAME: stopped, and the log holds no password
    stop_asfcast "$WORK/auth-$1.pid"
    grep -qF "s3cret" "$WORK/auth-$1.log" && fail "$1: the password appears in the log"
    return 0
}

check_pull() {  # check_pull NAME SCHEME PORT
    local out facts d
    out=$WORK/auth-$1.asf
    rm -f "$out"
    facts=$(timeout 60 $CLIENT --port "$3" --scheme "$2" --user alice --password "$PASSWORD" --seconds 5 \
            --asf-out "$out") || fail "$1: the distribution server could not pull: $facts"
    note "$1: $facts"
    grep -q "first=401" <<<"$facts" || fail "$1: not challenged first: $facts"
    grep -q "describe=200" <<<"$facts" || fail "$1: Describe not answered: $facts"
    grep -q "play=200" <<<"$facts" || fail "$1: Play not answered: $facts"
    grep -q "H=1" <<<"$facts" || fail "$1: no \$H after the Play: $facts"
    d=$(sed -n 's/.*D=\([0-9]*\).*/\1/p' <<<"$facts")
    [ "${d:-0}" -ge 50 ] || fail "$1: only ${d:-0} \$D packets in 5 s: $facts"
    ffmpeg_decodes_clean "$out"
    local frames
    frames=$(count_frames "$out" v)
    [ "${frames:-0}" -ge 50 ] || fail "$1: ffmpeg decoded only ${frames:-0} video frames"
    note "$1: ffmpeg decoded $frames video frames of the pulled stream"
}

# --- NTLM ------------------------------------------------------------------------------------------
port=$(run_server ntlm "[ntlm]")
trap 'stop_asfcast "$WORK/auth-ntlm.pid"' EXIT
facts=$(timeout 60 $CLIENT --port "$port" --scheme ntlm --user alice --password "$PASSWORD" --seconds 5 \
        --asf-out /dev/null) || true
grep -q "challenges=NTLM " <<<"$facts" || fail "ntlm: the challenge is not NTLM alone: $facts"
check_pull ntlm ntlm "$port"
# A wrong password: the AUTHENTICATE is refused, and nothing is served.
facts=$(timeout 60 $CLIENT --port "$port" --scheme ntlm --user alice --password wrong --seconds 1) &&
    fail "ntlm: a wrong password pulled: $facts"
grep -q "describe=401" <<<"$facts" || fail "ntlm: a wrong password was not answered 401: $facts"
grep -q "refused for /: wrong password" "$WORK/auth-ntlm.log" || fail "ntlm: the wrong password is not logged as such"
# curl's NTLM (a real, independent client) on the same server, if this curl has NTLM.
if curl -V | grep -qw NTLM; then
    code=$(curl -s -o "$WORK/auth-curl-ntlm" -w '%{http_code}' --max-time 10 --ntlm -u "alice:$PASSWORD" \
           -H "User-Agent: NSServer/9.0.0.3171" "http://127.0.0.1:$port/")
    [ "$code" = 200 ] || fail "ntlm: curl --ntlm got $code"
    [ "$(head -c 2 "$WORK/auth-curl-ntlm")" = '$H' ] || fail "ntlm: curl --ntlm did not get the header"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --ntlm -u "alice:wrong" "http://127.0.0.1:$port/")
    [ "$code" = 401 ] || fail "ntlm: curl --ntlm with a wrong password got $code"
    note "ntlm: curl --ntlm authenticated (200, \$H) and was refused with a wrong password (401)"
else
    note "ntlm: this curl has no NTLM; only the Python client was checked"
fi
finish_server ntlm
trap - EXIT

# --- Digest ----------------------------------------------------------------------------------------
port=$(run_server digest "[digest]")
trap 'stop_asfcast "$WORK/auth-digest.pid"' EXIT
check_pull digest digest "$port"
facts=$(timeout 60 $CLIENT --port "$port" --scheme digest --user alice --password "$PASSWORD" --seconds 1 \
        --asf-out /dev/null) || true
grep -q "challenges=Digest " <<<"$facts" || fail "digest: the challenge is not Digest alone: $facts"
finish_server digest
trap - EXIT

# --- Basic only: nothing the client accepts ----------------------------------------------------------
port=$(run_server basic "[basic]")
trap 'stop_asfcast "$WORK/auth-basic.pid"' EXIT
facts=$(timeout 60 $CLIENT --port "$port" --scheme ntlm --user alice --password "$PASSWORD" --expect refusal \
        --refusal-out "$WORK/auth-refusal") || fail "basic: no clear refusal: $facts"
note "basic: $facts"
grep -q "first=403" <<<"$facts" || fail "basic: not 403: $facts"
grep -q "challenges= " <<<"$facts" || fail "basic: a challenge was sent anyway: $facts"
grep -qF "this server accepts Basic; the client accepts only Negotiate, NTLM, Digest" "$WORK/auth-refusal" ||
    fail "basic: the refusal does not name both lists: $(cat "$WORK/auth-refusal")"
grep -q '\$H' "$WORK/auth-refusal" && fail "basic: media bytes in the refusal"
finish_server basic
trap - EXIT
