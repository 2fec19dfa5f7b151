#!/usr/bin/env bash
# The Debian package (issue 14, point 6): `cpack -G DEB` in the build folder makes a .deb that
# installs on this Debian 12 (dpkg -i: every dependency it declares is present), creates the
# service user (in the video and audio groups) and its folders, puts the unit template where
# systemd finds it (systemd-analyze verify passes; the offline security score is printed), and
# whose asfcast lists the presets and runs a broadcast as the service user, as the unit would.
# The package is purged at the end; a user or folders it created are removed again.
source "$(dirname "$0")/lib.sh"
BUILD_DIR=${BUILD_DIR:?BUILD_DIR must point at the CMake build folder}
d=$WORK/deb
rm -rf "$d"
mkdir -p "$d"
if dpkg-query -W -f='${Status}' asfcast 2>/dev/null | grep -q "installed"; then
    fail "a package named asfcast is installed on this machine already; remove it before this test"
fi
[ ! -e /usr/bin/asfcast ] || fail "/usr/bin/asfcast exists and does not belong to a package; remove it before this test"
user_existed=0; id asfcast > /dev/null 2>&1 && user_existed=1
etc_existed=0; [ -e /etc/asfcast ] && etc_existed=1
var_existed=0; [ -e /var/lib/asfcast ] && var_existed=1
cleanup() {
    dpkg --purge asfcast > /dev/null 2>&1 || true
    [ "$etc_existed" = 1 ] || rm -rf /etc/asfcast
    [ "$var_existed" = 1 ] || rm -rf /var/lib/asfcast
    [ "$user_existed" = 1 ] || userdel asfcast 2> /dev/null || true
}
trap cleanup EXIT

(cd "$BUILD_DIR" && cpack -G DEB -B "$d" > "$d/cpack.log" 2>&1) || { cat "$d/cpack.log" >&2; fail "cpack -G DEB failed"; }
deb=$(ls "$d"/asfcast_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "cpack made no .deb: $(tail -5 "$d/cpack.log")"
dpkg-deb -c "$deb" > "$d/contents.txt"
for f in ./usr/bin/asfcast ./usr/lib/systemd/system/asfcast@.service ./usr/lib/sysusers.d/asfcast.conf \
         ./usr/lib/tmpfiles.d/asfcast.conf ./usr/share/doc/asfcast/README.md ./usr/share/doc/asfcast/examples/default.yaml; do
    grep -q " $f\$" "$d/contents.txt" || fail "the package lacks $f"
done
depends=$(dpkg-deb -f "$deb" Depends)
for p in libx264 libgstreamer1.0 gstreamer1.0-plugins-base libsystemd0; do
    grep -q "$p" <<<"$depends" || fail "the package does not depend on $p: $depends"
done
note "package: $(basename "$deb"), $(stat -c %s "$deb") bytes, $(grep -c . "$d/contents.txt") entries"

dpkg -i "$deb" > "$d/dpkg.log" 2>&1 || { cat "$d/dpkg.log" >&2; fail "dpkg -i failed (a missing dependency?)"; }
presets=$(/usr/bin/asfcast presets) || fail "the installed asfcast presets failed"
n=$(grep -c . <<<"$presets")
[ "$n" -ge 9 ] || fail "the installed asfcast lists $n lines of presets: $presets"
groups=$(id -nG asfcast) || fail "no user asfcast after installing"
for g in video audio; do grep -qw "$g" <<<"$groups" || fail "the user asfcast is not in $g: $groups"; done
[ "$(stat -c '%U:%G %a' /var/lib/asfcast)" = "asfcast:asfcast 750" ] || fail "/var/lib/asfcast is $(stat -c '%U:%G %a' /var/lib/asfcast)"
[ "$(stat -c '%U:%G %a' /etc/asfcast)" = "root:asfcast 750" ] || fail "/etc/asfcast is $(stat -c '%U:%G %a' /etc/asfcast)"
unit=/usr/lib/systemd/system/asfcast@.service
out=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify $unit: $out"
[ -z "$out" ] || fail "systemd-analyze verify printed: $out"
score=$(systemd-analyze security --offline=true "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p')
[ -n "$score" ] || fail "systemd-analyze security gave no score"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "the unit's exposure level is $score (more than 2.0)"
note "installed: /usr/bin/asfcast lists $n presets; user asfcast in $groups; systemd-analyze verify clean; security exposure $score"

# A broadcast as the unit runs it: the service user, the preset in /etc/asfcast, the state folder.
install -m 0640 -g asfcast /usr/share/doc/asfcast/examples/default.yaml /etc/asfcast/test.yaml
(cd /var/lib/asfcast && runuser -u asfcast -- /usr/bin/asfcast --log-level warn run --preset /etc/asfcast/test.yaml \
    --duration 3 --pull 127.0.0.1:0 --archive /var/lib/asfcast/test.wmv) > "$d/run.log" 2>&1 ||
    { cat "$d/run.log" >&2; fail "the installed asfcast could not broadcast as the user asfcast"; }
frames=$(count_frames /var/lib/asfcast/test.wmv v)
[ "$frames" -ge 80 ] || fail "the service user's archive has only $frames video frames"
note "as the user asfcast: a 3 s broadcast archived to /var/lib/asfcast/test.wmv ($frames video frames)"

dpkg --purge asfcast > "$d/purge.log" 2>&1 || { cat "$d/purge.log" >&2; fail "dpkg --purge asfcast failed"; }
[ ! -e /usr/bin/asfcast ] && [ ! -e "$unit" ] || fail "files are left after purging the package"
