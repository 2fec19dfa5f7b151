#!/usr/bin/env bash
# Runs the multicast tests that need an interface with multicast (IPv6 groups; IPv4 on a named
# interface) in a private network namespace holding a veth pair: MULTICAST_TEST_IF names its end.
# Exit 77 (skipped) where a namespace or a veth pair cannot be made.
set -euo pipefail
tests=${1:?the multicast_tests binary}
unshare --net true 2>/dev/null || { echo "no network namespace here (needs root): skipped"; exit 77; }
exec timeout 100 unshare --net bash -c '
    set -e
    ip link set lo up
    ip link add mcva type veth peer name mcvb 2>/dev/null || { echo "no veth pair here: skipped"; exit 77; }
    ip addr add 10.231.0.1/24 dev mcva
    ip addr add fd00:231::1/64 dev mcva nodad
    ip link set mcva up
    ip link set mcvb up
    # The IPv6 multicast route comes with the link.
    for _ in $(seq 1 50); do ip -6 route show table local | grep -q "ff00::/8 dev mcva" && break; sleep 0.1; done
    MULTICAST_TEST_IF=mcva MULTICAST_TEST_IF_V4=10.231.0.1 MULTICAST_TEST_IF_V6=fd00:231::1 \
        "$0" --gtest_filter="*Netns*"
' "$tests"
