#!/usr/bin/python3
"""The status page in headless Chromium, driven over the Chrome DevTools protocol (Debian's
chromium and python3-websocket; no pip, no chromedriver needed).

  control_page.py URL WORKDIR

Loads URL (the control port's page), then checks, each within a bounded wait:
  - the page loaded its script: the outputs table lists "pull", running, with a Stop button;
  - the preview <img> shows a picture that changes: its pixels, drawn into a canvas, differ
    between two moments (the source is a moving test pattern);
  - the graphs were drawn (the bit-rate canvas has non-background pixels);
  - clicking Stop on the pull row stops the pull output (the page and /api/status both say
    "stopped"), and clicking Start starts it again.
Prints one line per step; exit status 1 with the reason on the first failure.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket


class Page:
    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=30)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
        raise RuntimeError(f"{method}: no answer in 30 s")

    def eval(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression[:60]}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_for(self, expression, what, seconds=20):
        deadline = time.monotonic() + seconds
        last = None
        while time.monotonic() < deadline:
            last = self.eval(expression)
            if last:
                return last
            time.sleep(0.2)
        raise AssertionError(f"{what}: not within {seconds} s (last value {last!r})")


# The preview's pixels as a short fingerprint: drawn into a canvas at 64x36, summed per cell.
PREVIEW_PIXELS = """(() => {
  const img = document.getElementById('preview');
  if (!img.complete || !img.naturalWidth) return null;
  const c = document.createElement('canvas'); c.width = 64; c.height = 36;
  const g = c.getContext('2d'); g.drawImage(img, 0, 0, 64, 36);
  return Array.from(g.getImageData(0, 0, 64, 36).data.filter((_, i) => i % 4 === 0));
})()"""

GRAPH_DRAWN = """(() => {
  const c = document.getElementById('graph-bitrate');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let blue = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 120 && d[i] < 80) blue++;
  return blue;
})()"""


def pull_state_api(base):
    with urllib.request.urlopen(base + "/api/status", timeout=10) as r:
        s = json.load(r)
    return next(o["state"] for o in s["outputs"] if o["id"] == "pull")


def main(url, work):
    chromium = shutil.which("chromium")
    if not chromium:
        print("FAIL: Debian's chromium is missing (scripts/install-deps.sh installs it)")
        return 1
    profile = tempfile.mkdtemp(prefix="asfcast-chromium-", dir=work)
    proc = subprocess.Popen(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--no-default-browser-check", "--remote-debugging-port=0",
         f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "chromium.log"), "w"))
    try:
        # Chromium writes its DevTools port to DevToolsActivePort in the profile.
        port = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and port is None:
            try:
                with open(os.path.join(profile, "DevToolsActivePort")) as f:
                    port = int(f.readline())
            except (OSError, ValueError):
                if proc.poll() is not None:
                    print(f"FAIL: chromium exited ({proc.returncode}); see chromium.log")
                    return 1
                time.sleep(0.2)
        if port is None:
            print("FAIL: chromium did not open its DevTools port within 30 s")
            return 1
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            targets = [t for t in json.load(r) if t.get("type") == "page"]
        page = Page(targets[0]["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Runtime.enable")
        page.call("Page.navigate", url=url)

        title = page.wait_for("document.readyState === 'complete' && document.title", "the page loads")
        page.wait_for("document.querySelector('tr[data-output=\"pull\"] .state')?.textContent === 'running'",
                      "the outputs table shows pull running")
        page.wait_for("!!document.querySelector('tr[data-output=\"pull\"] button.stop')", "a Stop button for pull")
        print(f"page loaded ('{title}'): pull running, Stop button present")

        first = page.wait_for(PREVIEW_PIXELS, "a preview picture")
        count1 = int(page.eval("document.getElementById('preview').dataset.count || '0'"))
        changed = 0
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = page.eval(PREVIEW_PIXELS)
            if now and len(now) == len(first):
                changed = sum(1 for a, b in zip(first, now) if abs(a - b) > 16)
                if changed > 20:
                    break
        count2 = int(page.eval("document.getElementById('preview').dataset.count || '0'"))
        if changed <= 20:
            print(f"FAIL: the preview did not change ({changed} of {len(first)} cells differ)")
            return 1
        print(f"preview changes: {changed} of {len(first)} cells differ; {count2 - count1} pictures loaded meanwhile")

        blue = page.wait_for(GRAPH_DRAWN, "the bit-rate graph is drawn")
        print(f"bit-rate graph drawn ({blue} line pixels)")

        base = url.rstrip("/")
        page.eval("document.querySelector('tr[data-output=\"pull\"] button.stop').click()")
        page.wait_for("document.querySelector('tr[data-output=\"pull\"] .state')?.textContent === 'stopped'",
                      "the page shows pull stopped after Stop")
        if pull_state_api(base) != "stopped":
            print("FAIL: the page says stopped, /api/status does not")
            return 1
        print("Stop clicked: pull stopped (page and /api/status)")
        page.wait_for("!!document.querySelector('tr[data-output=\"pull\"] button.start')", "a Start button for pull")
        page.eval("document.querySelector('tr[data-output=\"pull\"] button.start').click()")
        page.wait_for("document.querySelector('tr[data-output=\"pull\"] .state')?.textContent === 'running'",
                      "the page shows pull running after Start")
        if pull_state_api(base) != "running":
            print("FAIL: the page says running, /api/status does not")
            return 1
        print("Start clicked: pull running again (page and /api/status)")
        errors = page.eval("document.getElementById('message').className")
        if errors == "bad":
            message = page.eval("document.getElementById('message').textContent")
            print(f"FAIL: the page shows an error: {message}")
            return 1
        return 0
    except AssertionError as e:
        print(f"FAIL: {e}")
        return 1
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
