/**
 * The ward view's page: one self-contained HTML document (inline CSS and script, no framework, no
 * data in it). It signs in with the editor's own login — the token Node-RED's editor keeps in this
 * origin's localStorage, or its own form posting to Node-RED's /auth/token — and polls /ward/state
 * once a second while visible. Tiles are redrawn only when their content changed.
 */
export const WARD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ward view · mcps-edge</title>
<style>
  :root { --bg:#0f1419; --tile:#1a2129; --line:#2b3540; --text:#e6edf3; --dim:#8b98a5; --ok:#3fb950; --stale:#d29922; --off:#6e7681; --alarm:#f85149; --accent:#58a6ff; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.35 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--text); }
  header { display:flex; flex-wrap:wrap; gap:6px 18px; align-items:baseline; padding:10px 16px; border-bottom:1px solid var(--line); position:sticky; top:0; background:var(--bg); z-index:1; }
  header h1 { font-size:18px; margin:0 12px 0 0; }
  .kv { color:var(--dim); white-space:nowrap; }
  .kv b { color:var(--text); font-weight:600; }
  .kv.bad b { color:var(--alarm); } .kv.warn b { color:var(--stale); }
  #counts { margin-left:auto; }
  main { display:grid; grid-template-columns:repeat(auto-fill, minmax(230px, 1fr)); gap:10px; padding:12px 16px; }
  .tile { background:var(--tile); border:1px solid var(--line); border-radius:8px; padding:8px 10px; min-height:170px; }
  .tile.alarm { border-color:var(--alarm); box-shadow:0 0 0 1px var(--alarm) inset; }
  .tile.st-offline { opacity:.6; } .tile.st-stale { border-color:var(--stale); }
  .head { display:flex; justify-content:space-between; align-items:center; margin-bottom:4px; }
  .bed { font-weight:700; font-size:15px; }
  .dot { display:inline-block; width:9px; height:9px; border-radius:50%; margin-right:4px; vertical-align:middle; }
  .online { background:var(--ok); } .stale { background:var(--stale); } .offline { background:var(--off); }
  .vitals { display:flex; flex-wrap:wrap; gap:2px 12px; }
  .v { min-width:60px; } .v .l { color:var(--dim); font-size:11px; } .v .n { font-size:22px; font-weight:600; font-variant-numeric:tabular-nums; }
  .v .u { color:var(--dim); font-size:11px; margin-left:2px; } .v.alarm .n { color:var(--alarm); } .v.old .n { color:var(--dim); }
  svg { width:100%; height:34px; display:block; margin-top:2px; }
  .tr { color:var(--dim); font-size:11px; display:flex; justify-content:space-between; }
  .alarms { margin:4px 0 2px; } .alarms div { color:#fff; background:var(--alarm); border-radius:4px; padding:1px 6px; margin-bottom:2px; font-size:12px; }
  .alarms div.medium { background:#9e6a03; }
  .devs { color:var(--dim); font-size:11px; margin-top:4px; display:flex; flex-wrap:wrap; gap:2px 10px; }
  #login { max-width:320px; margin:12vh auto; background:var(--tile); border:1px solid var(--line); border-radius:8px; padding:18px; }
  #login input { width:100%; padding:7px; margin:4px 0 10px; background:var(--bg); color:var(--text); border:1px solid var(--line); border-radius:4px; }
  #login button { padding:7px 14px; background:var(--accent); border:0; border-radius:4px; color:#000; font-weight:600; cursor:pointer; }
  #error { color:var(--alarm); min-height:1.3em; }
  .empty { color:var(--dim); padding:24px; }
</style>
</head>
<body>
<header id="top" hidden>
  <h1>Ward view</h1>
  <span class="kv">gateway <b id="g-id">…</b></span>
  <span class="kv" id="g-flow">flows <b>…</b></span>
  <span class="kv">in <b id="g-rate">…</b>/s</span>
  <span class="kv" id="g-journal">journal <b>…</b></span>
  <span class="kv" id="g-outbox">outbox <b>…</b></span>
  <span class="kv">last anchored <b id="g-anchor">…</b></span>
  <span class="kv">chain node <b id="g-node">…</b></span>
  <span class="kv" id="g-reg">registration <b>…</b></span>
  <span class="kv" id="g-storage">storage <b>…</b></span>
  <span class="kv" id="counts"></span>
</header>
<form id="login" hidden>
  <h2 style="margin-top:0">Ward view</h2>
  <p class="kv">Sign in with the Node-RED editor's login.</p>
  <label>User<input id="user" autocomplete="username" value="admin"></label>
  <label>Password<input id="pass" type="password" autocomplete="current-password"></label>
  <div id="error"></div>
  <button type="submit">Sign in</button>
</form>
<main id="ward" hidden></main>
<script>
(function () {
  'use strict';
  var KEY = 'auth-tokens';
  var tiles = {};
  var timer = null;
  function token() { try { var t = JSON.parse(localStorage.getItem(KEY) || 'null'); return t && t.access_token; } catch (e) { return null; } }
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]; }); }
  function ago(ms) { if (ms < 0) ms = 0; var s = Math.round(ms / 1000); return s < 60 ? s + ' s' : s < 3600 ? Math.round(s / 60) + ' min' : Math.round(s / 3600) + ' h'; }
  function bytes(n) { return n >= 1e9 ? (n / 1e9).toFixed(1) + ' GB' : n >= 1e6 ? (n / 1e6).toFixed(1) + ' MB' : Math.round(n / 1e3) + ' kB'; }
  function showLogin(msg) {
    document.getElementById('top').hidden = true; document.getElementById('ward').hidden = true;
    document.getElementById('login').hidden = false; document.getElementById('error').textContent = msg || '';
    document.getElementById('pass').focus();
  }
  document.getElementById('login').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var body = new URLSearchParams({ client_id: 'node-red-editor', grant_type: 'password', scope: '', username: document.getElementById('user').value, password: document.getElementById('pass').value });
    fetch('auth/token', { method: 'POST', body: body }).then(function (r) {
      if (!r.ok) throw new Error('wrong user or password');
      return r.json();
    }).then(function (t) {
      localStorage.setItem(KEY, JSON.stringify(t));
      document.getElementById('pass').value = '';
      document.getElementById('login').hidden = true;
      poll();
    }).catch(function (e) { showLogin(e.message); });
  });
  function spark(points, lo, hi) {
    var n = points.length, d = '', pen = false, min = Infinity, max = -Infinity, i;
    for (i = 0; i < n; i++) if (points[i] !== null) { min = Math.min(min, points[i]); max = Math.max(max, points[i]); }
    if (min === Infinity) return '<svg viewBox="0 0 100 30"></svg>';
    if (max - min < 1e-9) { min -= 1; max += 1; }
    for (i = 0; i < n; i++) {
      var p = points[i];
      if (p === null) { pen = false; continue; }
      var x = (i / (n - 1)) * 100, y = 28 - ((p - min) / (max - min)) * 26;
      d += (pen ? 'L' : 'M') + x.toFixed(1) + ' ' + y.toFixed(1); pen = true;
    }
    return '<svg viewBox="0 0 100 30" preserveAspectRatio="none"><path d="' + d + '" fill="none" stroke="#58a6ff" stroke-width="1.5" vector-effect="non-scaling-stroke"/></svg>';
  }
  function fmt(v, kind) { return kind === 'body_temp' ? v.toFixed(1) : Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v * 10) / 10) : v.toFixed(1); }
  function tileHtml(b, now, bucketMs) {
    var h = '<div class="head"><span class="bed">' + esc(b.patient) + '</span><span class="kv"><span class="dot ' + b.status + '"></span>' + b.status + '</span></div>';
    if (b.alarms.length) h += '<div class="alarms">' + b.alarms.map(function (a) { return '<div class="' + a.severity + '" title="since ' + ago(now - a.since) + '">' + esc(a.text) + '</div>'; }).join('') + '</div>';
    var sys = null, dia = null;
    b.vitals.forEach(function (v) { if (v.kind === 'nibp_systolic') sys = v; if (v.kind === 'nibp_diastolic') dia = v; });
    h += '<div class="vitals">' + b.vitals.filter(function (v) { return v.kind !== 'nibp_diastolic' && v.kind !== 'nibp_mean'; }).map(function (v) {
      var old = now - v.at > 60000, val = fmt(v.value, v.kind), label = v.label, unit = v.unit;
      if (v.kind === 'nibp_systolic' && dia) { val = fmt(v.value) + '/' + fmt(dia.value); label = 'NIBP'; }
      if (unit === 'Cel') unit = '°C'; if (unit === '/min') unit = '/min'; if (unit === 'mm[Hg]') unit = 'mmHg';
      return '<div class="v' + (v.alarm ? ' alarm' : '') + (old ? ' old' : '') + '" data-kind="' + v.kind + '"><div class="l">' + esc(label) + '</div><span class="n">' + esc(val) + '</span><span class="u">' + esc(unit) + '</span></div>';
    }).join('') + '</div>';
    b.trends.forEach(function (t) {
      h += '<div class="tr"><span>' + esc(t.label) + ' · last ' + Math.round((t.points.length * bucketMs) / 60000) + ' min</span></div>' + spark(t.points);
    });
    h += '<div class="devs">' + b.devices.map(function (d) { return '<span title="' + esc(d.source) + (d.lastSeen ? ', last data ' + ago(now - d.lastSeen) + ' ago' : ', no data yet') + '"><span class="dot ' + d.status + '"></span>' + esc(d.id) + ' ' + d.status + '</span>'; }).join('') + '</div>';
    return h;
  }
  function setKv(id, text, cls) { var e = document.getElementById(id); var b = e.querySelector('b') || e; b.textContent = text; if (e.classList) { e.classList.remove('bad', 'warn'); if (cls) e.classList.add(cls); } }
  function render(s) {
    var g = s.gateway, w = s.ward, now = w.at;
    document.getElementById('login').hidden = true; document.getElementById('top').hidden = false; document.getElementById('ward').hidden = false;
    setKv('g-id', g.gatewayId);
    setKv('g-flow', g.flowsRunning ? 'running' : 'stopped', g.flowsRunning ? '' : 'bad');
    setKv('g-rate', String(g.readingsPerS));
    setKv('g-journal', g.journalDepth + ' unsealed', g.journalDepth > 10000 ? 'warn' : '');
    setKv('g-outbox', g.outboxPending + ' pending' + (g.submitFailures ? ', ' + g.submitFailures + ' failed tries' : ''), g.outboxPending > 20 ? 'warn' : '');
    setKv('g-anchor', g.lastAnchored ? (g.lastAnchored.seq >= 0 ? '#' + g.lastAnchored.seq + ' (' + g.lastAnchored.count + ' readings, block ' + g.lastAnchored.blockNumber + ', ' + ago(now - g.lastAnchored.at) + ' ago) ' : '') + 'tx ' + g.lastAnchored.txHash.slice(0, 10) + '…' : 'none yet');
    document.getElementById('g-anchor').title = g.lastAnchored ? g.lastAnchored.txHash : '';
    setKv('g-node', g.chainNode ? g.chainNode.nodeId + ' ' + g.chainNode.url : 'none');
    setKv('g-reg', g.registration, g.registration === 'registered' ? '' : g.registration === 'unknown' ? 'warn' : 'bad');
    setKv('g-storage', bytes(g.storage.bytes) + ' of ' + bytes(g.storage.budgetBytes) + ' (' + g.storage.state + ')', g.storage.state === 'ok' ? '' : g.storage.state === 'warn' ? 'warn' : 'bad');
    var c = w.counts;
    document.getElementById('counts').innerHTML = '<b>' + c.beds + '</b> beds · devices <b>' + c.devices.online + '</b> online, <b>' + c.devices.stale + '</b> stale, <b>' + c.devices.offline + '</b> offline · <b>' + c.alarms + '</b> alarms';
    var main = document.getElementById('ward'), seen = {};
    if (!w.beds.length) { main.innerHTML = '<div class="empty">No beds yet: no device is registered and none has sent a reading.</div>'; tiles = {}; return; }
    var empty = main.querySelector('.empty'); if (empty) empty.remove();
    w.beds.forEach(function (b, i) {
      seen[b.patient] = true;
      var t = tiles[b.patient];
      if (!t) { t = { el: document.createElement('section'), html: '' }; t.el.className = 'tile'; t.el.setAttribute('data-bed', b.patient); tiles[b.patient] = t; }
      if (main.children[i] !== t.el) main.insertBefore(t.el, main.children[i] || null);
      var html = tileHtml(b, now, w.trendBucketMs);
      if (html !== t.html) { t.el.innerHTML = html; t.html = html; }
      t.el.className = 'tile st-' + b.status + (b.alarms.some(function (a) { return a.severity === 'high'; }) ? ' alarm' : '');
    });
    Object.keys(tiles).forEach(function (p) { if (!seen[p]) { tiles[p].el.remove(); delete tiles[p]; } });
  }
  function poll() {
    clearTimeout(timer);
    var t = token(), headers = t ? { Authorization: 'Bearer ' + t } : {};
    fetch('ward/state', { headers: headers, cache: 'no-store' }).then(function (r) {
      if (r.status === 401) { localStorage.removeItem(KEY); showLogin(t ? 'Your session ended: sign in again.' : ''); return null; }
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    }).then(function (s) {
      if (!s) return;
      render(s);
      timer = setTimeout(poll, document.hidden ? 5000 : 1000);
    }).catch(function () { timer = setTimeout(poll, 3000); });
  }
  document.addEventListener('visibilitychange', function () { if (!document.hidden && !document.getElementById('ward').hidden) poll(); });
  poll();
})();
</script>
</body>
</html>
`;
