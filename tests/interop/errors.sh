#!/usr/bin/env bash
# Bad input gets a clear error and a non-zero exit: bad presets, missing input, unwritable archive.
source "$(dirname "$0")/lib.sh"

expect_error() {  # PATTERN CMD...
    local pattern=$1; shift
    set +e
    out=$(timeout 60 "$@" 2>&1)
    rc=$?
    set -e
    [ "$rc" -ne 0 ] || fail "expected failure from: $*"
    grep -q -- "$pattern" <<<"$out" || fail "error for '$*' does not mention '$pattern': $out"
    note "ok ($rc): $(grep -m1 -- "$pattern" <<<"$out")"
}

printf 'name: bad\nvideo:\n  bitrate_kbps: 999999999\n' >"$WORK/bad-range.yaml"
expect_error "video.bitrate_kbps" "$ASFCAST" run --preset "$WORK/bad-range.yaml" --duration 1
printf 'name: bad\nvideo:\n  bitrat: 100\n' >"$WORK/bad-key.yaml"
expect_error "bitrat" "$ASFCAST" run --preset "$WORK/bad-key.yaml" --duration 1
expect_error "no-such-preset" "$ASFCAST" run --preset no-such-preset --duration 1
expect_error "$WORK/missing.mkv" "$ASFCAST" run --input "$WORK/missing.mkv" --duration 1
head -c 100000 /dev/urandom >"$WORK/garbage.mkv"
expect_error "garbage.mkv" "$ASFCAST" run --input "$WORK/garbage.mkv" --duration 1
expect_error "/nonexistent-dir/x.wmv" "$ASFCAST" run --archive /nonexistent-dir/x.wmv --duration 1
expect_error "not an ASF file\|too short\|cannot" "$ASFCAST" inspect "$WORK/garbage.mkv"
