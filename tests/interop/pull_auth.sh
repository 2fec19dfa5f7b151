#!/usr/bin/env bash
# Pull authentication and address rules, checked with curl (a real HTTP client with Basic and
# Digest): no credentials or a wrong password get 401 and no media byte; the right password gets
# the header and the stream; a denied address gets 403. No password reaches the log.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
UA="User-Agent: NSPlayer/9.0.0.2980"
PASSWORD='s3cret pass:x'

for mode in digest basic; do
    write_pull_preset "$WORK/pull-auth.yaml"
    cat >> "$WORK/pull-auth.yaml" <<YAML
outputs:
  pull:
    auth: $mode
    realm: interop
    users: [{name: alice, password: "$PASSWORD"}]
    deny: [127.0.0.2/32]
YAML
    log=$WORK/pull-auth-$mode.log
    port=$(start_asfcast "$log" "$WORK/pull-auth.pid" --preset "$WORK/pull-auth.yaml" --pull 127.0.0.1:0 --duration 60)
    trap 'stop_asfcast "$WORK/pull-auth.pid"' EXIT
    url="http://127.0.0.1:$port/"
    flag=--$mode

    # No credentials: 401 with a challenge of the configured scheme, and no $H in the body.
    code=$(curl -s -o "$WORK/auth-body" -D "$WORK/auth-head" -H "$UA" -w '%{http_code}' --max-time 5 "$url")
    [ "$code" = 401 ] || fail "$mode: no credentials answered $code"
    grep -qi "^WWW-Authenticate: $mode realm=\"interop\"" "$WORK/auth-head" || fail "$mode: no $mode challenge"
    grep -q '\$H' "$WORK/auth-body" && fail "$mode: media bytes sent before authentication"

    # Wrong password: 401 again.
    code=$(curl -s -o /dev/null -H "$UA" -w '%{http_code}' --max-time 5 $flag -u "alice:wrong" "$url")
    [ "$code" = 401 ] || fail "$mode: wrong password answered $code"

    # Right password: the Describe answer (the ASF header as $H), then a Play that streams.
    code=$(curl -s -o "$WORK/auth-describe" -D "$WORK/auth-head" -H "$UA" -w '%{http_code}' --max-time 5 $flag \
           -u "alice:$PASSWORD" "$url")
    [ "$code" = 200 ] || fail "$mode: right password answered $code"
    grep -qi '^Content-Type: application/vnd.ms.wms-hdr.asfv1' "$WORK/auth-head" || fail "$mode: Describe content type"
    [ "$(head -c 2 "$WORK/auth-describe")" = '$H' ] || fail "$mode: Describe body is not a \$H packet"
    curl -s -o "$WORK/auth-play" -H "$UA" -H 'Pragma: xPlayStrm=1' --max-time 4 $flag -u "alice:$PASSWORD" "$url" || true
    size=$(stat -c %s "$WORK/auth-play")
    [ "$size" -gt 100000 ] || fail "$mode: Play with the right password got only $size bytes in 4 s"
    [ "$(head -c 2 "$WORK/auth-play")" = '$H' ] || fail "$mode: Play body does not start with \$H"

    # A denied address: 403 before any authentication.
    code=$(curl -s -o /dev/null -H "$UA" -w '%{http_code}' --max-time 5 --interface 127.0.0.2 \
           $flag -u "alice:$PASSWORD" "http://127.0.0.1:$port/")
    [ "$code" = 403 ] || fail "$mode: denied address answered $code"

    stop_asfcast "$WORK/pull-auth.pid"
    trap - EXIT
    grep -qF "s3cret" "$log" && fail "$mode: the password appears in the log"
    grep -q "refused for /: " "$log" || fail "$mode: refusals are not logged"
    note "$mode: 401 without or with a wrong password, 200 and $size bytes with the right one, 403 when denied"
done
