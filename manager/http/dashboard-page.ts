// The dashboard: one self-contained page, no external scripts, fonts or styles (nothing to fetch
// but /v1/capacity and /v1/alerts: critical alerts, a cluster without a writable primary first,
// stand above the nodes as problems). The token comes from the URL fragment (#token=…, never sent to the server
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
  function load() {
    var t = sessionStorage.getItem('berthToken');
    var headers = t ? { authorization: 'Bearer ' + t } : {};
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
