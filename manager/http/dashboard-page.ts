// The dashboard: one self-contained page, no external scripts, fonts or styles (nothing to fetch
// but the admin API: critical alerts, a cluster without a writable primary first, stand above
// the rest as problems; then the fleet's allocation over the last day and 90 days, the forecast,
// operations in flight, backups and restore drills, stable endpoints, clusters with their members' health, and the nodes). The token comes from the URL fragment (#token=…, never sent to the server
// in the URL) or the form, and stays in sessionStorage for the tab.
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>berth capacity</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2430; }
  header { background: #1d2430; color: #fff; padding: 10px 20px; display: flex; gap: 24px; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  header .sum { font-size: 13px; opacity: .9; }
  main { padding: 16px 20px; display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 14px; }
  .node { background: #fff; border-radius: 6px; padding: 12px 14px; box-shadow: 0 1px 2px rgba(0,0,0,.12); border-left: 5px solid #2e9d5b; }
  .node.down { border-left-color: #c62828; background: #fff5f5; }
  .node.cordoned { border-left-color: #e0a100; }
  .node h2 { font-size: 15px; margin: 0 0 2px; display: flex; gap: 8px; align-items: center; }
  .badge { font-size: 11px; font-weight: 600; padding: 1px 6px; border-radius: 3px; color: #fff; }
  .badge.down { background: #c62828; } .badge.cordoned { background: #e0a100; } .badge.ready { background: #2e9d5b; }
  .meta { color: #5b6575; font-size: 12px; margin-bottom: 6px; }
  .res { display: grid; grid-template-columns: 60px 1fr; gap: 2px 8px; align-items: center; margin: 4px 0; }
  .res .label { font-weight: 600; font-size: 12px; }
  .res .nums { grid-column: 2; font-size: 11px; color: #5b6575; }
  .legend { font-size: 12px; color: #ccd; } .legend i { display: inline-block; width: 10px; height: 10px; margin: 0 3px 0 10px; vertical-align: middle; }
  #login { padding: 30px; } #error { color: #c62828; padding: 0 20px; }
  #problems { padding: 0 20px; } .problem { background: #fff5f5; border-left: 5px solid #c62828; padding: 8px 12px; margin: 10px 0 0; border-radius: 4px; }
  .problem b { color: #c62828; }
  .row { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 14px; padding: 14px 20px 0; }
  .panel { background: #fff; border-radius: 6px; padding: 10px 14px; box-shadow: 0 1px 2px rgba(0,0,0,.12); }
  .panel h3 { font-size: 14px; margin: 0 0 6px; }
  tr.endpoint.closed td.ready { color: #c0392b; font-weight: 600; }
  tr.backup.failed td.outcome { color: #c0392b; font-weight: 600; }
  .panel h4 { font-size: 12px; font-weight: normal; color: #5b6575; margin: 6px 0 2px; }
  .panel table { border-collapse: collapse; width: 100%; font-size: 12px; } .panel td, .panel th { text-align: left; padding: 2px 6px 2px 0; }
  .panel .empty { color: #5b6575; font-size: 12px; }
  svg.chart .line { fill: none; stroke-width: 2; } svg.chart .cpu { stroke: #3b6fd4; } svg.chart .memory { stroke: #8e44ad; } svg.chart .disk { stroke: #e0a100; }
  .cluster { border-left: 5px solid #2e9d5b; } .cluster.problem-cluster { border-left-color: #c62828; background: #fff5f5; }
  .member.broken, .member.stopped { color: #c62828; } .member.lagging { color: #b36b00; }
</style>
</head>
<body>
<header>
  <h1>berth capacity</h1>
  <span class="sum" id="summary">loading…</span>
  <span class="legend"><i style="background:#3b6fd4"></i>allocated<i style="background:#2e9d5b"></i>used<i style="background:#dfe3ea"></i>free</span>
  <span class="sum" id="updated"></span>
</header>
<div id="error" role="alert"></div>
<form id="login" hidden><label>Admin token <input id="token" type="password" autocomplete="off"></label> <button>Show</button></form>
<section id="problems" data-testid="problems" aria-live="polite"></section>
<div class="row">
  <section class="panel" id="history" data-testid="history"><h3>Fleet allocation <span class="legend" style="color:#5b6575"><i style="background:#3b6fd4"></i>cpu<i style="background:#8e44ad"></i>memory<i style="background:#e0a100"></i>disk</span></h3><h4>last day, a point a minute</h4><div id="chart"></div><h4>last 90 days, a point an hour</h4><div id="chart90"></div><div id="forecast"></div></section>
  <section class="panel" id="operations" data-testid="operations"><h3>Operations in flight</h3><div id="ops"></div><h3>Backups and restore drills</h3><div id="backups"></div><h3>Stable endpoints</h3><div id="endpoints"></div></section>
</div>
<div class="row" id="clusters" data-testid="clusters"></div>
<main id="nodes" data-testid="nodes"></main>
<script>
(function () {
  var REFRESH_MS = 5000;
  var m = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
  if (m) { sessionStorage.setItem('berthToken', decodeURIComponent(m[1])); history.replaceState(null, '', location.pathname); }
  var el = function (id) { return document.getElementById(id); };
  function size(n) {
    var u = ['B', 'K', 'M', 'G', 'T', 'P'], i = 0;
    while (Math.abs(n) >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (Math.round(n * 10) / 10) + u[i];
  }
  function cpu(mc) { return (Math.round(mc / 100) / 10) + ' cores'; }
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); }
  function bar(r, fmt) {
    var cap = Math.max(r.capacity * (r.overcommit || 1), 1);
    var w = function (v) { return Math.max(0, Math.min(100, v / cap * 100)).toFixed(2); };
    return '<svg width="100%" height="16" viewBox="0 0 100 16" preserveAspectRatio="none" role="img" aria-label="allocated ' + esc(fmt(r.allocated)) + '">' +
      '<rect x="0" y="0" width="100" height="16" fill="#dfe3ea"/>' +
      '<rect class="alloc" x="0" y="0" width="' + w(r.allocated) + '" height="16" fill="#3b6fd4"/>' +
      '<rect class="used" x="0" y="11" width="' + w(r.used) + '" height="5" fill="#2e9d5b"/></svg>' +
      '<span class="nums">allocated ' + fmt(r.allocated) + ' (' + r.allocationPct + '%) · used ' + fmt(r.used) + ' · free ' + fmt(r.free) + ' of ' + fmt(r.capacity) + (r.overcommit !== 1 ? ' ×' + r.overcommit : '') + '</span>';
  }
  function render(rep) {
    var f = rep.fleet;
    el('summary').textContent = f.nodes.total + ' nodes (' + f.nodes.ready + ' ready, ' + f.nodes.down + ' down, ' + f.nodes.cordoned + ' cordoned) · ' +
      f.instances.total + ' instances · memory free ' + size(f.memory.free) + ' · cpu free ' + cpu(f.cpu.free) + ' · disk free ' + size(f.disk.free);
    el('nodes').innerHTML = rep.nodes.map(function (n) {
      var cls = n.state === 'down' ? 'down' : n.cordoned ? 'cordoned' : 'ready';
      var badges = (n.state === 'down' ? '<span class="badge down">DOWN</span>' : '<span class="badge ready">ready</span>') + (n.cordoned ? '<span class="badge cordoned">CORDONED</span>' : '');
      return '<section class="node ' + cls + '" data-node="' + esc(n.name) + '" data-state="' + esc(n.state) + '" data-cordoned="' + n.cordoned + '">' +
        '<h2>' + esc(n.name) + badges + '</h2>' +
        '<div class="meta">' + esc(n.host) + ' · zone ' + esc(n.zone) + ' · rack ' + esc(n.rack) + ' · <span class="count">' + n.instances.total + '</span> instances</div>' +
        '<div class="res"><span class="label">CPU</span>' + bar(n.cpu, cpu) + '</div>' +
        '<div class="res"><span class="label">Memory</span>' + bar(n.memory, size) + '</div>' +
        '<div class="res"><span class="label">Disk</span>' + bar(n.disk, size) + '</div>' +
        '</section>';
    }).join('');
    el('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  }
  // No writable primary first: the application behind it is down.
  function renderProblems(alerts) {
    var crit = alerts.items.filter(function (a) { return a.severity === 'critical'; });
    crit.sort(function (a, b) { return (b.rule === 'cluster_no_writable_primary') - (a.rule === 'cluster_no_writable_primary'); });
    el('problems').innerHTML = crit.map(function (a) {
      return '<div class="problem" data-rule="' + esc(a.rule) + '" data-subject="' + esc(a.subject) + '"><b>PROBLEM</b> ' + esc(a.rule) + ' · ' + esc(a.subject) + ': ' + esc(a.message) + '</div>';
    }).join('');
  }
  // Allocation as a share of capacity over time, one line per resource: the last day (a point a
  // minute) and the last 90 days (a point an hour, the mean of its minutes).
  function renderHistory(h, target, every) {
    var pts = h.samples, W = 600, H = 120;
    if (!pts.length) { el(target).innerHTML = '<span class="empty">no history yet (a point ' + every + ')</span>'; return; }
    var t0 = Date.parse(pts[0].at), t1 = Math.max(Date.parse(pts[pts.length - 1].at), t0 + 60000);
    var label = every === 'a minute' ? 'over the last day' : 'over the last 90 days';
    var line = function (k) {
      return '<polyline class="line ' + k + '" data-points="' + pts.length + '" points="' + pts.map(function (p) {
        var x = (Date.parse(p.at) - t0) / (t1 - t0) * W, y = H - Math.min(1, p[k].allocated / Math.max(p[k].capacity, 1)) * H;
        return x.toFixed(1) + ',' + y.toFixed(1);
      }).join(' ') + '"/>';
    };
    var last = pts[pts.length - 1];
    var pct = function (k) { return Math.round(last[k].allocated / Math.max(last[k].capacity, 1) * 100) + '%'; };
    el(target).innerHTML = '<svg class="chart" width="100%" height="' + H + '" viewBox="0 0 ' + W + ' ' + H + '" preserveAspectRatio="none" role="img" aria-label="allocation ' + label + '">' +
      '<rect x="0" y="0" width="' + W + '" height="' + H + '" fill="#f4f5f7"/>' + line('cpu') + line('memory') + line('disk') + '</svg>' +
      '<span class="nums">now: cpu ' + pct('cpu') + ' · memory ' + pct('memory') + ' · disk ' + pct('disk') + ' allocated · ' + pts.length + ' points since ' + new Date(t0).toLocaleString() + '</span>';
  }
  function renderForecast(f) {
    var rows = [];
    f.forecasts.forEach(function (z) {
      z.shapes.forEach(function (r) {
        var days = r.days === null ? 'not growing' : r.days + ' d' + (r.low !== null ? ' (' + r.low + '–' + (r.high === null ? '∞' : r.high) + ')' : '');
        rows.push('<tr data-scope="' + esc(z.scope) + '" data-name="' + esc(z.name) + '"><td>' + esc(z.scope === 'fleet' ? 'fleet' : 'zone ' + z.name) + '</td><td>' + cpu(r.shape.cpuMillis) + ' / ' + size(r.shape.memoryBytes) + ' / ' + size(r.shape.diskBytes) + '</td><td class="fits">' + r.fitsNow + (r.truncated ? '+' : '') + '</td><td>' + esc(r.limitedBy) + '</td><td class="days">' + days + '</td></tr>');
      });
    });
    el('forecast').innerHTML = rows.length ? '<table><tr><th>where</th><th>common shape</th><th>fit now</th><th>runs out</th><th>refused in</th></tr>' + rows.join('') + '</table>' : '<span class="empty">no forecast yet</span>';
  }
  // Per target a backup policy covers: its last backup, the last drill's outcome and measured
  // restore time, and when a drill last verified a backup (a failed drill first).
  function renderBackups(page) {
    var items = page.items.slice().sort(function (a, b) { return (b.lastDrillOutcome === 'failed') - (a.lastDrillOutcome === 'failed'); });
    el('backups').innerHTML = items.length ? '<table><tr><th>target</th><th>last backup</th><th>last drill</th><th>restore</th><th>verified</th></tr>' + items.map(function (t) {
      var b = t.lastBackup ? esc(t.lastBackup.status) + ' ' + esc(new Date(t.lastBackup.createdAt).toLocaleString()) : 'none';
      return '<tr class="backup ' + esc(t.lastDrillOutcome || 'none') + '" data-target="' + esc(t.target) + '"><td>' + esc(t.target) + '</td><td>' + b + '</td><td class="outcome">' + esc(t.lastDrillOutcome || 'none') +
        '</td><td class="restore">' + (t.lastDrillRestoreSeconds ? t.lastDrillRestoreSeconds.toFixed(1) + ' s' : '') + '</td><td>' + (t.lastVerifiedAt ? esc(new Date(t.lastVerifiedAt).toLocaleString()) : 'never') + '</td></tr>';
    }).join('') + '</table>' : '<span class="empty">no backup policy</span>';
  }
  // Each stable endpoint: where it is served, what it leads to, its proxy's sessions; one that
  // refuses every client (no ready server) first.
  function renderEndpoints(page) {
    var items = page.items.slice().sort(function (a, b) { return ((b.stats && b.stats.serversReady === 0) - (a.stats && a.stats.serversReady === 0)) || (a.name < b.name ? -1 : 1); });
    el('endpoints').innerHTML = items.length ? '<table><tr><th>endpoint</th><th>of</th><th>address</th><th>ready servers</th><th>sessions now</th><th>errors</th></tr>' + items.map(function (e) {
      var st = e.stats, ready = st ? st.serversReady : '?';
      return '<tr class="endpoint' + (st && st.serversReady === 0 ? ' closed' : '') + '" data-endpoint="' + esc(e.name) + '"><td>' + esc(e.name) + ' <small>' + esc(e.kind) + '</small></td><td>' + esc(e.clusterName || e.instanceId) + '</td><td>' + esc(e.host) + ':' + e.port +
        '</td><td class="ready">' + ready + '</td><td>' + (st ? st.currentSessions : '') + '</td><td>' + (st ? st.errors : '') + '</td></tr>';
    }).join('') + '</table>' : '<span class="empty">none (the manager runs without --endpoint-ports)</span>';
  }
  function renderOps(page) {
    el('ops').innerHTML = page.items.length ? '<table><tr><th>operation</th><th>on</th><th>state</th><th>progress</th></tr>' + page.items.map(function (o) {
      var p = o.progress || {}, pctDone = p.bytesTotal ? Math.floor(p.bytesDone / p.bytesTotal * 100) : -1;
      return '<tr class="op" data-op="' + esc(o.id) + '"><td>' + esc(o.type) + ' <small>' + esc(o.id) + '</small></td><td>' + esc((o.subjects || []).map(function (s) { return s.name; }).join(', ')) + '</td><td>' + esc(o.state) + '</td><td>' +
        esc(p.phase || ('step ' + (o.nextStep + 1))) + (pctDone >= 0 ? ' · ' + size(p.bytesDone) + ' of ' + size(p.bytesTotal) + ' (' + pctDone + '%)' : '') + '</td></tr>';
    }).join('') + '</table>' : '<span class="empty">none</span>';
  }
  // Each cluster's members with their role, health and lag (asked of their agents), its problem first.
  function renderClusters(list, headers) {
    Promise.all(list.items.slice(0, 20).map(function (c) {
      return fetch('/v1/clusters/' + encodeURIComponent(c.name), { headers: headers }).then(function (r) { return r.ok ? r.json() : c; }).catch(function () { return c; });
    })).then(function (cs) {
      el('clusters').innerHTML = cs.map(function (c) {
        var members = (c.members || []).map(function (m) {
          var lag = m.role === 'replica' && m.secondsBehind >= 0 ? ' · ' + m.secondsBehind + ' s behind' : '';
          return '<tr class="member ' + esc(m.health || '') + '" data-member="' + esc(m.instance.name) + '"><td>' + esc(m.instance.name) + '</td><td>' + esc(m.role) + (m.fenced ? ' (fenced)' : '') + '</td><td>' + esc(m.health || '') + lag + '</td><td>' + esc(m.instance.node || '') + '</td></tr>';
        }).join('');
        return '<section class="panel cluster' + (c.problem ? ' problem-cluster' : '') + '" data-cluster="' + esc(c.name) + '"><h3>' + esc(c.name) + ' <small>' + esc(c.flavor) + ' · ' + esc(c.replication) + ' · ' + esc(c.state) + '</small></h3>' +
          (c.problem ? '<div class="problem"><b>PROBLEM</b> ' + esc(c.problem) + '</div>' : '') + '<table>' + members + '</table></section>';
      }).join('');
    });
  }
  function load() {
    var t = sessionStorage.getItem('berthToken');
    var headers = t ? { authorization: 'Bearer ' + t } : {};
    var get = function (url, fn) { fetch(url, { headers: headers }).then(function (res) { return res.ok ? res.json().then(fn) : undefined; }).catch(function () {}); };
    get('/v1/capacity/history?resolution=1m', function (h) { renderHistory(h, 'chart', 'a minute'); });
    get('/v1/capacity/history?resolution=1h', function (h) { renderHistory(h, 'chart90', 'an hour'); });
    get('/v1/capacity/forecast', renderForecast);
    get('/v1/operations?state=running&limit=20', renderOps);
    get('/v1/backups/status', renderBackups);
    get('/v1/endpoints', renderEndpoints);
    get('/v1/clusters?limit=20', function (l) { renderClusters(l, headers); });
    fetch('/v1/alerts', { headers: headers }).then(function (res) { return res.ok ? res.json().then(renderProblems) : undefined; }).catch(function () {});
    fetch('/v1/capacity', { headers: headers }).then(function (res) {
      if (res.status === 401) { el('login').hidden = false; el('error').textContent = 'an admin token is needed: the manager printed it on its first start and keeps it in <state-dir>/admin-token (cat .berth/admin-token, or docker-compose exec manager cat /var/lib/berth/admin-token); paste it here or open this page as /#token=<token>'; return; }
      if (!res.ok) throw new Error('HTTP ' + res.status);
      return res.json().then(function (rep) { el('login').hidden = true; el('error').textContent = ''; render(rep); });
    }).catch(function (e) { el('error').textContent = 'cannot load capacity: ' + e.message; });
  }
  el('login').addEventListener('submit', function (e) { e.preventDefault(); sessionStorage.setItem('berthToken', el('token').value); load(); });
  load();
  setInterval(load, REFRESH_MS);
})();
</script>
</body>
</html>
`;
