/**
 * The live page served at `GET /`: one self-contained HTML document (no external assets) that
 * fetches `/status` every two seconds and shows it. Peer-supplied text (AE titles) is only ever
 * set as text content, never as markup.
 *
 * @module
 */

/** The HTML of the live status page. */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dimse status</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.3rem; margin: 0 0 .5rem; }
h2 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: .2rem .7rem .2rem 0; border-bottom: 1px solid #ddd; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
#state.ok { color: #186a1c; } #state.down { color: #a11; }
.muted { color: #777; }
</style>
</head>
<body>
<h1>dimse <span id="ae"></span> <span id="state"></span></h1>
<div id="summary" class="muted">loading…</div>
<h2>Active associations</h2>
<table><thead><tr><th>Peer AE</th><th>Called AE</th><th>Address</th><th>Started</th>
<th>Contexts</th><th>Messages in/out</th><th>Bytes in/out</th></tr></thead>
<tbody id="associations"></tbody></table>
<h2>Associations</h2>
<table><tbody id="association-totals"></tbody></table>
<h2>Messages by service and status</h2>
<table><thead><tr><th>Service</th><th>Status</th><th>Count</th></tr></thead>
<tbody id="messages"></tbody></table>
<script>
"use strict";
function row(cells, numeric) {
  const tr = document.createElement("tr");
  cells.forEach(function (value, i) {
    const td = document.createElement("td");
    td.textContent = String(value);
    if (numeric && numeric.indexOf(i) >= 0) td.className = "n";
    tr.appendChild(td);
  });
  return tr;
}
function fill(id, rows) {
  const body = document.getElementById(id);
  body.replaceChildren.apply(body, rows);
}
function render(s) {
  document.getElementById("ae").textContent = s.aeTitle;
  const state = document.getElementById("state");
  state.textContent = s.accepting ? "accepting" : "not accepting";
  state.className = s.accepting ? "ok" : "down";
  const where = s.listening ? s.listening.hostname + ":" + s.listening.port : "not listening";
  document.getElementById("summary").textContent = "version " + s.version + " · " + where +
    " · up " + Math.round(s.uptimeSeconds) + " s · " + s.totals.bytes.received + " bytes in, " +
    s.totals.bytes.sent + " bytes out";
  fill("associations", s.associations.map(function (a) {
    return row([a.callingAeTitle, a.calledAeTitle, a.address.hostname + ":" + a.address.port,
      a.started, a.acceptedContexts.length, a.messages.received + " / " + a.messages.sent,
      a.bytes.received + " / " + a.bytes.sent], [4]);
  }));
  fill("association-totals", Object.keys(s.totals.associations).map(function (k) {
    return row([k, s.totals.associations[k]], [1]);
  }));
  fill("messages", s.totals.messages.map(function (m) {
    return row([m.service, m.status, m.count], [2]);
  }));
}
function refresh() {
  fetch("status", { cache: "no-store" }).then(function (r) { return r.json(); }).then(render)
    .catch(function () {
      const state = document.getElementById("state");
      state.textContent = "unreachable";
      state.className = "down";
    });
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
`;
