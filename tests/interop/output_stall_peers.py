#!/usr/bin/env python3
"""Peers for tests/interop/output_stall.sh. Every mode ends by itself after SECONDS.

  status SOCKET SECONDS
      Binds a Unix datagram socket like systemd's NOTIFY_SOCKET and prints each STATUS= message
      asfcast sends with the wall-clock time it arrived:
      "T_SECONDS MEDIA_SECONDS VIDEO_FRAMES DROPPED PACKETS" (T from the first message).
  stalled-push PORTFILE SECONDS
      A WMHTTP server that stops reading: it answers every PushSetup like Windows Media Services
      (204, Set-Cookie push-id), reads the PushStart request head and then never reads again,
      with a tiny receive buffer; the connections stay open. Writes its port to PORTFILE.
  stalled-pull PORT SECONDS
      A WMSP player that stops reading: one Play request (NSPlayer, xPlayStrm=1) on a socket with
      a tiny receive buffer, then nothing is read; at the end (or SIGTERM) prints how many bytes
      arrived unread.
"""
import fcntl
import re
import signal
import socket
import struct
import sys
import termios
import threading
import time


def status(path, seconds):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(0.2)
    end = time.monotonic() + seconds
    t0 = None
    pat = re.compile(r"STATUS=(\d+):(\d+):(\d+), .*video (\d+) frames \((\d+) dropped\).* (\d+) packets")
    while time.monotonic() < end:
        try:
            data = s.recv(4096)
        except socket.timeout:
            continue
        now = time.monotonic()
        for line in data.decode(errors="replace").splitlines():
            m = pat.search(line)
            if not m:
                continue
            if t0 is None:
                t0 = now
            h, mi, se, frames, dropped, packets = (int(x) for x in m.groups())
            print(f"{now - t0:.3f} {h * 3600 + mi * 60 + se} {frames} {dropped} {packets}", flush=True)


def read_head(c, deadline):
    buf = b""
    while b"\r\n\r\n" not in buf:
        if time.monotonic() > deadline or len(buf) > 65536:
            return None, b""
        c.settimeout(max(0.1, deadline - time.monotonic()))
        chunk = c.recv(4096)
        if not chunk:
            return None, b""
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head.decode(errors="replace"), rest


def serve_stalled_push(c, n, deadline, log):
    try:
        head, rest = read_head(c, deadline)
        if head is None:
            return
        log(f"connection {n}: {head.splitlines()[0]}")
        m = re.search(r"(?im)^content-length:\s*(\d+)", head)
        body_len = int(m.group(1)) if m else 0
        is_setup = re.search(r"(?im)^content-type:\s*application/x-wms-pushsetup", head) is not None
        if is_setup:
            while len(rest) < body_len:
                chunk = c.recv(4096)
                if not chunk:
                    return
                rest += chunk
            c.sendall(b"HTTP/1.1 204 No Content\r\nServer: Cougar/9.01.01.3814\r\n"
                      b"Date: Mon, 01 Jan 2007 17:45:16 GMT\r\nPragma: no-cache, timeout=60000\r\n"
                      b"Cache-Control: no-cache\r\nSet-Cookie: push-id=%d\r\n"
                      b"Supported: com.microsoft.wm.srvppair, com.microsoft.wm.sswitch, com.microsoft.wm.predstrm\r\n"
                      b"Content-Length: 0\r\n\r\n" % (1000 + n))
            head, _ = read_head(c, deadline)
            if head is None:
                return
            log(f"connection {n}: {head.splitlines()[0]}; reading no more")
        else:
            log(f"connection {n}: not a PushSetup; reading no more")
        # Stop reading: hold the connection open until the end.
        while time.monotonic() < deadline:
            time.sleep(0.2)
    except OSError as e:
        log(f"connection {n}: {e}")
    finally:
        c.close()


def stalled_push(portfile, seconds):
    deadline = time.monotonic() + seconds
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)  # inherited by accepted sockets
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    with open(portfile, "w") as f:
        f.write(f"{ls.getsockname()[1]}\n")
    lock = threading.Lock()

    def log(msg):
        with lock:
            print(f"stalled-push: {msg}", flush=True)

    n = 0
    threads = []
    ls.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            c, _ = ls.accept()
        except socket.timeout:
            continue
        n += 1
        t = threading.Thread(target=serve_stalled_push, args=(c, n, deadline, log), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(timeout=1)
    log(f"{n} connection(s) in all")


def stalled_pull(port, seconds):
    deadline = time.monotonic() + seconds
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)  # before connect: a tiny window
    c.connect(("127.0.0.1", port))
    c.sendall(b"GET / HTTP/1.0\r\nAccept: */*\r\nUser-Agent: NSPlayer/9.0.0.2980\r\nHost: 127.0.0.1\r\n"
              b"Pragma: no-cache,rate=1.000000,stream-time=0,stream-offset=4294967295:4294967295,"
              b"request-context=2,max-duration=0\r\nPragma: xPlayStrm=1\r\n"
              b"Pragma: xClientGUID={c77e7400-738a-11d2-9add-0020af0a3278}\r\n\r\n")
    print("stalled-pull: Play sent; reading nothing", flush=True)
    start = time.monotonic()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while time.monotonic() < deadline:  # never read
            time.sleep(0.2)
    finally:
        unread = struct.unpack("i", fcntl.ioctl(c, termios.FIONREAD, b"\0\0\0\0"))[0]
        print(f"stalled-pull: read nothing for {time.monotonic() - start:.1f} s; {unread} bytes arrived unread",
              flush=True)
    c.close()


def main():
    mode = sys.argv[1]
    if mode == "status":
        status(sys.argv[2], float(sys.argv[3]))
    elif mode == "stalled-push":
        stalled_push(sys.argv[2], float(sys.argv[3]))
    elif mode == "stalled-pull":
        stalled_pull(int(sys.argv[2]), float(sys.argv[3]))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
