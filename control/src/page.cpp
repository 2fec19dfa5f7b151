// The status page: static HTML, script and style compiled into the binary (no build step, nothing
// fetched from elsewhere). The script polls /api/status and /api/history, refreshes the preview
// once a second and posts actions; it sends the token (kept in the browser's sessionStorage) when
// the control port has one.
#include "asfcast/control/control.hpp"

namespace asfcast::control {

std::string_view page_html() {
    return R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>asfcast</title>
<link rel="stylesheet" href="/app.css">
</head>
<body>
<header>
  <h1>asfcast</h1>
  <span id="preset"></span>
  <span id="clock"></span>
  <span id="source" class="badge"></span>
  <span id="conn" class="badge"></span>
</header>
<form id="login" hidden>
  <label>Token <input id="token" type="password" autocomplete="current-password"></label>
  <button type="submit">Use</button>
  <span>This control port needs its token.</span>
</form>
<main>
  <section class="preview">
    <img id="preview" alt="preview of the encoder's input" width="320" height="180">
    <div id="preview-note"></div>
  </section>
  <section class="graphs">
    <h2>Bit rate <span id="bitrate-now"></span></h2>
    <canvas id="graph-bitrate" width="480" height="120"></canvas>
    <h2>Clients <span id="clients-now"></span></h2>
    <canvas id="graph-clients" width="480" height="120"></canvas>
  </section>
  <section class="outputs">
    <h2>Outputs</h2>
    <table id="outputs"><thead><tr><th>output</th><th>state</th><th>detail</th><th>last error</th><th></th></tr></thead><tbody></tbody></table>
    <form id="add-push">
      <input id="push-url" placeholder="http://server:port/pubpoint" size="32">
      <input id="push-user" placeholder="user" size="8">
      <input id="push-password" type="password" placeholder="password" size="8" autocomplete="off">
      <button type="submit">Add push target</button>
    </form>
  </section>
  <section class="script">
    <h2>Script commands</h2>
    <form id="command">
      <select id="command-type"><option>CAPTION</option><option>TEXT</option><option>URL</option><option>EVENT</option><option>FILENAME</option></select>
      <input id="command-parameter" placeholder="text" size="32">
      <button type="submit">Send</button>
    </form>
    <form id="marker">
      <input id="marker-name" placeholder="marker name" size="20">
      <button type="submit">Mark</button>
    </form>
  </section>
  <section class="clients">
    <h2>Pull clients</h2>
    <table id="clients"><thead><tr><th>address</th><th>user agent</th><th>bytes</th><th>since</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="stats">
    <h2>Counters</h2>
    <dl id="counters"></dl>
  </section>
</main>
<div id="message" role="status"></div>
<script src="/app.js"></script>
</body>
</html>
)HTML";
}

std::string_view page_css() {
    return R"CSS(body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #222; }
header { display: flex; gap: 1em; align-items: center; padding: .5em 1em; background: #1d2b3a; color: #fff; }
header h1 { font-size: 1.2em; margin: 0; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 1em; padding: 1em; }
section { background: #fff; border-radius: 4px; padding: .5em 1em 1em; box-shadow: 0 1px 2px #0002; }
h2 { font-size: 1em; margin: .5em 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 2px 6px; border-bottom: 1px solid #eee; vertical-align: top; }
.badge { padding: 1px 8px; border-radius: 8px; background: #555; }
.ok { background: #1f7a3a; color: #fff; }
.warn { background: #b36b00; color: #fff; }
.bad { background: #a32020; color: #fff; }
td.error { color: #a32020; }
#preview { background: #000; max-width: 100%; height: auto; }
canvas { width: 100%; max-width: 480px; background: #fafafa; border: 1px solid #ddd; }
form { margin: .5em 0; }
#login { padding: .5em 1em; background: #fff3cd; }
#message { position: fixed; bottom: 0; left: 0; right: 0; padding: .3em 1em; background: #222; color: #fff; min-height: 1.4em; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0 1em; margin: 0; }
dd { margin: 0; }
)CSS";
}

std::string_view page_js() {
    return R"JS('use strict';
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem('asfcast-token') || '';
let previewUrl = null;
let previewCount = 0;

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (token) h['Authorization'] = 'Bearer ' + token;
  return h;
}

async function api(path, options) {
  const o = Object.assign({}, options || {});
  o.headers = headers(o.headers);
  o.cache = 'no-store';
  const r = await fetch(path, o);
  if (r.status === 401) { $('login').hidden = false; throw new Error('the control port needs its token'); }
  return r;
}

function say(text, bad) {
  $('message').textContent = text;
  $('message').className = bad ? 'bad' : '';
}

function kbps(bps) { return (bps / 1000).toFixed(0) + ' kbit/s'; }
function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}
function stateClass(state) {
  if (state === 'running' || state === 'streaming' || state === 'live') return 'badge ok';
  if (state === 'failed' || state === 'lost') return 'badge bad';
  return 'badge warn';
}

async function act(body) {
  try {
    const r = await api('/api/actions', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const j = await r.json();
    if (!r.ok) { say(body.action + ': ' + j.error, true); return false; }
    say(body.action + ': ' + j.result);
    await refreshStatus();
    return true;
  } catch (e) { say(String(e), true); return false; }
}

function drawGraph(canvas, series, colors, unit) {
  const g = canvas.getContext('2d');
  const w = canvas.width, h = canvas.height;
  g.clearRect(0, 0, w, h);
  let max = 1;
  for (const s of series) for (const v of s) max = Math.max(max, v);
  max *= 1.1;
  g.strokeStyle = '#ddd';
  g.fillStyle = '#666';
  g.font = '10px sans-serif';
  for (let i = 0; i <= 4; i++) {
    const y = h - (h * i) / 4;
    g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke();
    if (i > 0) g.fillText((max * i / 4).toFixed(unit === 'kbit/s' ? 0 : 1) + ' ' + unit, 2, y + 10);
  }
  series.forEach((s, k) => {
    if (s.length < 2) return;
    g.strokeStyle = colors[k];
    g.lineWidth = 1.5;
    g.beginPath();
    s.forEach((v, i) => {
      const x = (w * i) / (s.length - 1);
      const y = h - (h * v) / max;
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
  });
}

async function refreshHistory() {
  try {
    const r = await api('/api/history');
    if (!r.ok) return;
    const j = await r.json();
    const samples = j.samples.slice(-300);
    drawGraph($('graph-bitrate'), [samples.map((s) => s.bitrate_bps / 1000)], ['#1f5fa8'], 'kbit/s');
    drawGraph($('graph-clients'), [samples.map((s) => s.pull_clients), samples.map((s) => s.push_streaming)], ['#1f7a3a', '#b36b00'], '');
  } catch (e) { /* shown by the status poll */ }
}

function renderOutputs(s) {
  const body = $('outputs').tBodies[0];
  body.replaceChildren();
  for (const o of s.outputs) {
    const row = body.insertRow();
    row.dataset.output = o.id;
    cell(row, o.id);
    const st = row.insertCell();
    st.className = 'state';
    const badge = document.createElement('span');
    badge.className = stateClass(o.state);
    badge.textContent = o.state;
    st.append(badge);
    cell(row, o.detail);
    cell(row, o.last_error, 'error');
    const actions = row.insertCell();
    if (o.can_stop) {
      const b = document.createElement('button');
      b.textContent = 'Stop';
      b.className = 'stop';
      b.onclick = () => act({ action: 'stop_output', output: o.id });
      actions.append(b);
    }
    if (o.can_start) {
      const b = document.createElement('button');
      b.textContent = 'Start';
      b.className = 'start';
      b.onclick = () => act({ action: 'start_output', output: o.id });
      actions.append(b);
    }
    if (o.kind === 'push') {
      const b = document.createElement('button');
      b.textContent = 'Remove';
      b.className = 'remove';
      b.onclick = () => act({ action: 'remove_push_target', id: o.id });
      actions.append(b);
    }
  }
}

async function refreshStatus() {
  let s;
  try {
    const r = await api('/api/status');
    if (!r.ok) throw new Error('status ' + r.status);
    s = await r.json();
    $('conn').textContent = 'connected';
    $('conn').className = 'badge ok';
  } catch (e) {
    $('conn').textContent = 'no answer';
    $('conn').className = 'badge bad';
    return;
  }
  $('login').hidden = true;
  $('preset').textContent = s.preset + ' (asfcast ' + s.version + ')';
  const t = Math.floor(s.media_time_s);
  $('clock').textContent = [t / 3600, (t / 60) % 60, t % 60].map((v) => String(Math.floor(v)).padStart(2, '0')).join(':');
  $('source').textContent = 'source ' + s.source.description;
  $('source').className = stateClass(s.source.state);
  $('bitrate-now').textContent = kbps(s.stream.bitrate_bps);
  $('clients-now').textContent = s.pull.streaming_now + ' pull, ' + s.push_targets.filter((p) => p.state === 'streaming').length + ' push';
  renderOutputs(s);
  const cb = $('clients').tBodies[0];
  cb.replaceChildren();
  for (const c of s.pull.clients) {
    const row = cb.insertRow();
    cell(row, c.address); cell(row, c.user_agent); cell(row, c.bytes_sent.toLocaleString());
    cell(row, new Date(c.started_unix_ms).toLocaleTimeString());
  }
  const counters = {
    'video frames captured': s.frames.video_captured, 'video frames dropped': s.frames.video_dropped,
    'packets': s.stream.packets, 'source losses': s.source.losses,
    'script commands': s.script.commands_sent, 'markers': s.script.markers,
  };
  for (const r of s.renditions) counters['stream ' + r.stream + ' ' + r.kind + ' ' + r.name] = r.frames + ' frames, ' + kbps(r.bitrate_bps);
  const dl = $('counters');
  dl.replaceChildren();
  for (const [k, v] of Object.entries(counters)) {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = String(v);
    dl.append(dt, dd);
  }
}

async function refreshPreview() {
  try {
    const r = await api('/api/preview.jpg');
    if (!r.ok) { $('preview-note').textContent = 'no preview'; return; }
    const blob = await r.blob();
    const url = URL.createObjectURL(blob);
    $('preview').src = url;
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = url;
    previewCount++;
    $('preview').dataset.count = String(previewCount);
    $('preview-note').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (e) { /* next second */ }
}

$('login').onsubmit = (e) => {
  e.preventDefault();
  token = $('token').value;
  sessionStorage.setItem('asfcast-token', token);
  refreshStatus(); refreshHistory();
};
$('add-push').onsubmit = (e) => {
  e.preventDefault();
  const body = { action: 'add_push_target', url: $('push-url').value };
  if ($('push-user').value) body.user = $('push-user').value;
  if ($('push-password').value) body.password = $('push-password').value;
  act(body).then((ok) => { if (ok) $('push-password').value = ''; });
};
$('command').onsubmit = (e) => {
  e.preventDefault();
  act({ action: 'script_command', type: $('command-type').value, parameter: $('command-parameter').value });
};
$('marker').onsubmit = (e) => {
  e.preventDefault();
  act({ action: 'marker', name: $('marker-name').value });
};

refreshStatus(); refreshHistory(); refreshPreview();
setInterval(refreshStatus, 1000);
setInterval(refreshPreview, 1000);
setInterval(refreshHistory, 2000);
)JS";
}

}  // namespace asfcast::control
