#!/usr/bin/env python3
"""nal_runs.py [--from-first-match] SENT CARRIED: did a relay carry the H.264 a camera sent, byte for byte?

Both files are Annex B byte streams (ITU-T H.264 Annex B: NAL units after 00 00 01 start codes,
a zero_byte before some; trailing zero bytes belong to no NAL unit). SENT is what the camera
encoded (rtsp_camera --dump-h264), CARRIED what was taken out of our ASF (ffmpeg -c:v copy -f h264).
Start-code lengths are not compared (they may differ), NAL units are.

Checks:
  - the coded pictures and SEI (every NAL unit but parameter sets and delimiters: types 7, 8, 9)
    of CARRIED are, in order, one contiguous run of SENT's;
  - every SPS and PPS in CARRIED is one SENT sent (a relay may repeat parameter sets, not make them);
--from-first-match: CARRIED may begin with pictures that are not the camera's (the slate, shown
until an SRT sender connects): the comparison starts at its first coded picture the camera sent.
Prints "carried N units (V slices, S parameter sets) = SENT units A..B" and exits 0, or says
where they differ and exits 1.
"""
import sys


def nal_units(data):
    units = []
    i, n = 0, len(data)
    start = None
    while i + 2 < n:
        if data[i] == 0 and data[i + 1] == 0 and data[i + 2] == 1:
            if start is not None:
                end = i
                while end > start and data[end - 1] == 0:
                    end -= 1
                units.append(data[start:end])
            start = i + 3
            i += 3
        else:
            i += 1
    if start is not None:
        end = n
        while end > start and data[end - 1] == 0:
            end -= 1
        units.append(data[start:end])
    return [u for u in units if u]


PARAMETER_SETS = (7, 8)
DELIMITER = 9


def main():
    args = sys.argv[1:]
    from_first_match = args[:1] == ["--from-first-match"]
    if from_first_match:
        args = args[1:]
    sent = nal_units(open(args[0], "rb").read())
    carried = nal_units(open(args[1], "rb").read())
    sent_sets = {u for u in sent if u[0] & 31 in PARAMETER_SETS}
    skipped = 0
    if from_first_match:
        sent_all = set(sent)
        for i, u in enumerate(carried):
            if u[0] & 31 in (1, 5) and u in sent_all:
                skipped, carried = i, carried[i:]
                break
        else:
            print("no carried picture is one the camera sent")
            return 1
    body = lambda units: [u for u in units if u[0] & 31 not in PARAMETER_SETS + (DELIMITER,)]
    s_body, c_body = body(sent), body(carried)
    if not c_body:
        print("the carried stream has no coded picture")
        return 1
    made_up = [u for u in carried if u[0] & 31 in PARAMETER_SETS and u not in sent_sets]
    if made_up:
        print("the carried stream has %d parameter sets the camera never sent (first: type %d, %d bytes)"
              % (len(made_up), made_up[0][0] & 31, len(made_up[0])))
        return 1
    best = (0, -1)
    first = c_body[0]
    for off, u in enumerate(s_body):
        if u != first:
            continue
        k = 0
        while k < len(c_body) and off + k < len(s_body) and s_body[off + k] == c_body[k]:
            k += 1
        if k == len(c_body):
            slices = sum(1 for u in c_body if u[0] & 31 in (1, 5))
            sets = sum(1 for u in carried if u[0] & 31 in PARAMETER_SETS)
            print("carried %d units (%d slices, %d parameter sets) = sent units %d..%d of %d%s"
                  % (len(c_body), slices, sets, off, off + k - 1, len(s_body),
                     " (after %d units of the slate)" % skipped if from_first_match else ""))
            return 0
        if k > best[0]:
            best = (k, off)
    if best[1] < 0:
        print("the first carried unit (type %d, %d bytes) is none the camera sent" % (first[0] & 31, len(first)))
    else:
        k, off = best
        print("carried unit %d (type %d, %d bytes) differs from sent unit %d; %d equal before it"
              % (k, c_body[k][0] & 31, len(c_body[k]), off + k, k))
    return 1


if __name__ == "__main__":
    sys.exit(main())
