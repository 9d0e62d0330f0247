// Tidemark dashboard: renders the snapshots pushed on /v1/stream (server-sent events). Plain ES module, no build.
/* global Chart */

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
const tid = (id) => $(`[data-testid="${id}"]`);

// ---- formatting (the e2e test formats the query API's numbers the same way) ------------------------------------
const money = (n) => n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const int = (n) => Math.round(n).toLocaleString('en-US');
const pct = (r) => (r === null || r === undefined ? '—' : `${(r * 100).toFixed(1)}%`);
const pad = (n) => String(n).padStart(2, '0');
const hhmm = (ms) => { const d = new Date(ms); return `${pad(d.getHours())}:${pad(d.getMinutes())}`; };
const hhmmss = (ms) => { const d = new Date(ms); return `${hhmm(ms)}:${pad(d.getSeconds())}`; };
const duration = (ms) => {
  if (ms < 0) ms = 0;
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} m ${Math.floor((ms % 60_000) / 1000)} s`;
  if (ms < 86_400_000) return `${Math.floor(ms / 3_600_000)} h ${Math.floor((ms % 3_600_000) / 60_000)} m`;
  return `${Math.floor(ms / 86_400_000)} d ${Math.floor((ms % 86_400_000) / 3_600_000)} h`;
};

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else if (k === 'style') e.setAttribute('style', v);
    else e.setAttribute(k, String(v));
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function setText(id, text) {
  const e = tid(id);
  if (e && e.textContent !== text) e.textContent = text;
}

/** Marks every element of a panel ok or unavailable (with the reason). */
function setPanel(name, panel) {
  for (const p of $$(`[data-panel="${name}"]`)) {
    const ok = panel && panel.status === 'ok';
    p.dataset.state = ok ? 'ok' : 'unavailable';
    const na = $(':scope > .na', p);
    if (na) na.textContent = ok ? '' : (panel ? panel.error : 'no data');
  }
  return panel && panel.status === 'ok';
}

// ---- charts (Chart.js, served by the dashboard from node_modules) ------------------------------------------------
Chart.defaults.color = '#8b98a9';
Chart.defaults.borderColor = 'rgba(38, 48, 64, .8)';
Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
Chart.defaults.animation = false;

function makeChart(id, type, label, color, format, integer = false) {
  return new Chart(document.getElementById(id), {
    type,
    data: { labels: [], datasets: [{ label, data: [], borderColor: color, backgroundColor: type === 'bar' ? color + 'cc' : color + '22', fill: type === 'line', tension: 0.25, pointRadius: 0, pointHitRadius: 6, borderWidth: 2, borderRadius: 3 }] },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (c) => `${label}: ${format(c.parsed.y)}${c.raw && c.raw.partial ? ' (open window)' : ''}` } },
      },
      scales: {
        x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 10 } },
        y: { beginAtZero: true, suggestedMax: integer ? 5 : 10, ticks: { precision: integer ? 0 : undefined, callback: (v) => format(v) } },
      },
      parsing: { xAxisKey: 'x', yAxisKey: 'y' },
    },
  });
}

const charts = {
  gmv: makeChart('chart-gmv', 'line', 'GMV', '#4aa3ff', (v) => money(v)),
  orders: makeChart('chart-orders', 'bar', 'Orders', '#36c5a0', (v) => int(v), true),
  visitors: makeChart('chart-visitors', 'line', 'Unique visitors', '#b18cff', (v) => int(v), true),
};

/** Every minute of the range, so a minute without orders shows as zero rather than disappearing. */
function minuteAxis(snapshot, series) {
  const from = snapshot.range.from;
  const lastPoint = series.points.length ? series.points[series.points.length - 1].windowStart : from;
  const to = Math.max(lastPoint, from + (snapshot.range.minutes - 1) * 60_000);
  const byStart = new Map(series.points.map((p) => [p.windowStart, p]));
  const out = [];
  for (let t = from; t <= to; t += 60_000) {
    const p = byStart.get(t);
    out.push({ x: hhmm(t), y: p ? p.value : 0, partial: p ? !p.final : false });
  }
  return out;
}

function renderChart(chart, snapshot, panel) {
  const data = panel && panel.status === 'ok' ? minuteAxis(snapshot, panel) : [];
  chart.data.labels = data.map((d) => d.x);
  chart.data.datasets[0].data = data;
  chart.data.datasets[0].pointRadius = data.map((d) => (d.partial ? 3 : 0));
  chart.update('none');
}

// ---- panels -----------------------------------------------------------------------------------------------------
function renderSeriesKpi(name, panel, prefix, format) {
  if (!setPanel(name, panel)) return;
  const last = panel.lastFinal;
  setText(`kpi-${prefix}`, last ? format(last.value) : '—');
  setText(`kpi-${prefix}-window`, last ? `minute ${hhmm(last.windowStart)}–${hhmm(last.windowStart + 60_000)}` : 'no closed minute yet');
  if (prefix === 'visitors') setText('kpi-visitors-current', panel.latest && !panel.latest.final ? format(panel.latest.value) : '—');
  else setText(`kpi-${prefix}-total`, format(panel.total));
}

function renderPaymentFailure(panel) {
  if (!setPanel('paymentFailure', panel)) return;
  const w = panel.window;
  const card = $('.kpi[data-panel="paymentFailure"]');
  setText('kpi-payment-failure', w ? pct(w.ratio) : '—');
  setText('kpi-payment-failure-counts', w ? `${int(w.numerator)} of ${int(w.denominator)} failed` : 'no payments yet');
  setText('kpi-payment-failure-window', w ? `5 min ${hhmm(w.windowStart)}–${hhmm(w.windowEnd)}${w.final ? '' : ' · open'}` : '5 min');
  card.dataset.level = !w || w.ratio === null ? '' : w.ratio >= 0.1 ? 'crit' : w.ratio >= 0.05 ? 'warn' : '';
}

function renderLate(panel) {
  if (!setPanel('lateEvents', panel)) return;
  setText('kpi-late', int(panel.total));
  setText('kpi-late-types', panel.byType.length ? panel.byType.slice(0, 3).map((t) => `${t.type} ${int(t.count)}`).join(' · ') : 'none');
}

function renderUnpaid(panel) {
  if (!setPanel('unpaidOrders', panel)) return;
  setText('kpi-unpaid', int(panel.count));
  setText('kpi-unpaid-amount', money(panel.amount));
}

function renderFunnel(panel) {
  if (!setPanel('funnel', panel)) return;
  const box = tid('funnel');
  const w = panel.window;
  if (!w) {
    box.replaceChildren(el('div', { class: 'empty' }, 'no sessions yet'));
    setText('funnel-window', '—');
    setText('funnel-conversion', '—');
    return;
  }
  setText('funnel-window', `${hhmm(w.windowStart)}–${hhmm(w.windowEnd)}${w.final ? '' : ' · open'}`);
  const max = Math.max(1, ...w.stages.map((s) => s.sessions));
  const rows = [];
  w.stages.forEach((s, i) => {
    rows.push(
      el('div', { class: 'stage', 'data-testid': `funnel-stage-${s.name}` },
        el('span', { class: 'name' }, s.name),
        el('div', { class: 'track' }, el('div', { class: 'fill', style: `width:${((s.sessions / max) * 100).toFixed(1)}%` })),
        el('span', { class: 'count mono', 'data-testid': `funnel-${s.name}` }, int(s.sessions))),
    );
    const r = w.rates[i];
    if (r) rows.push(el('div', { class: 'stage' }, el('span'), el('span', { class: 'rate' }, `↓ ${r.to}: `, el('span', { class: 'mono', 'data-testid': `funnel-rate-${r.from}-${r.to}` }, pct(r.rate)))));
  });
  box.replaceChildren(...rows);
  setText('funnel-conversion', pct(w.conversion));
}

function renderTop(panel) {
  if (!setPanel('topProducts', panel)) return;
  const body = $('tbody', tid('top-products'));
  if (panel.windowStart !== null) setText('top-window', `views ${hhmm(panel.windowStart)}–${hhmm(panel.windowEnd)}${panel.final ? '' : ' · open'}`);
  if (!panel.items.length) return body.replaceChildren(el('tr', {}, el('td', { class: 'empty', colspan: 4 }, 'no product views yet')));
  const max = Math.max(1, ...panel.items.map((i) => i.value));
  body.replaceChildren(
    ...panel.items.map((item, i) =>
      el('tr', { 'data-testid': `top-product-${i}` },
        el('td', {}, i + 1),
        el('td', { 'data-testid': `top-product-${i}-id`, title: item.key }, item.key),
        el('td', { class: 'num', 'data-testid': `top-product-${i}-views` }, int(item.value)),
        el('td', {}, el('div', { class: 'bar', style: `width:${((item.value / max) * 100).toFixed(1)}%` }))),
    ),
  );
}

function renderAlerts(panel) {
  setPanel('alerts', panel);
  const kpi = $('.kpi[data-panel="alerts"]');
  const kna = tid('alerts-kpi-unavailable');
  if (kna) kna.textContent = panel.status === 'ok' ? '' : panel.error;
  if (panel.status !== 'ok') return;
  const list = panel.alerts;
  setText('kpi-alerts', int(list.length));
  const count = (sev) => list.filter((a) => a.severity === sev).length;
  setText('kpi-alerts-breakdown', list.length ? `${count('critical')} critical · ${count('warning')} warning · ${count('info')} info` : 'all clear');
  kpi.dataset.level = count('critical') ? 'crit' : list.length ? 'warn' : '';
  const ul = tid('alerts');
  if (!list.length) return ul.replaceChildren(el('li', { class: 'empty' }, 'no active alerts'));
  ul.replaceChildren(
    ...list.map((a) =>
      el('li', { 'data-severity': a.severity, 'data-state': a.state, 'data-testid': `alert-${a.rule}` },
        el('div', { class: 'head' }, el('span', {}, a.rule), el('span', { class: 'state' }, `${a.state} · ${a.severity}`)),
        el('div', { class: 'summary' }, a.summary || Object.entries(a.labels || {}).map(([k, v]) => `${k}=${v}`).join(' ')),
        el('div', { class: 'summary mono' }, `since ${hhmmss(a.startsAt)}${a.value === null || a.value === undefined ? '' : ` · value ${Number(a.value).toLocaleString('en-US', { maximumFractionDigits: 4 })}`}`)),
    ),
  );
}

function renderServices(snapshot) {
  const body = $('tbody', tid('services'));
  const aggWm = snapshot.watermark.status === 'ok' ? snapshot.watermark.watermark : null;
  body.replaceChildren(
    ...snapshot.services.map((s) => {
      const wm = s.watermark ?? (s.name === 'aggregation' ? aggWm : null);
      const durables = Object.entries(s.lagByDurable);
      return el('tr', { 'data-testid': `service-${s.name}` },
        el('td', {}, s.name),
        el('td', {}, el('span', { class: 'status', 'data-health': s.health, 'data-testid': `service-${s.name}-status` }, s.health === 'down' ? 'unavailable' : s.health)),
        el('td', { class: 'num', 'data-testid': `service-${s.name}-lag`, title: durables.map(([d, n]) => `${d}: ${n}`).join('\n') }, s.lag === null ? '—' : int(s.lag)),
        el('td', { class: 'num', 'data-testid': `service-${s.name}-rate` }, s.rate === null ? '—' : int(s.rate)),
        el('td', { class: 'mono', 'data-testid': `service-${s.name}-watermark` }, wm === null ? '—' : `${hhmmss(wm)} (−${duration(snapshot.generatedAt - wm)})`));
    }),
  );
  const i = snapshot.ingest;
  setText('ingest-accepted', i.accepted === null ? '—' : int(i.accepted));
  setText('ingest-duplicates', i.duplicates === null ? '—' : int(i.duplicates));
  setText('ingest-rejected', i.rejected === null ? '—' : int(i.rejected));
  if (snapshot.watermark.status === 'ok') {
    const parts = Object.entries(snapshot.watermark.partitions);
    setText('partitions', parts.length ? `${parts.length}, slowest ${hhmmss(Math.min(...parts.map(([, v]) => v)))}` : '—');
  }
}

function renderHeader(snapshot) {
  const wm = snapshot.watermark.status === 'ok' ? snapshot.watermark.watermark : null;
  setText('watermark', snapshot.watermark.status !== 'ok' ? 'unavailable' : wm === null ? 'none yet' : hhmmss(wm));
  setText('watermark-delay', wm === null ? '—' : duration(snapshot.generatedAt - wm));
  setText('updated', hhmmss(snapshot.generatedAt));
}

function render(snapshot) {
  renderHeader(snapshot);
  renderSeriesKpi('gmv', snapshot.gmv, 'gmv', money);
  renderSeriesKpi('orders', snapshot.orders, 'orders', int);
  renderSeriesKpi('uniqueVisitors', snapshot.uniqueVisitors, 'visitors', int);
  renderChart(charts.gmv, snapshot, snapshot.gmv);
  renderChart(charts.orders, snapshot, snapshot.orders);
  renderChart(charts.visitors, snapshot, snapshot.uniqueVisitors);
  renderPaymentFailure(snapshot.paymentFailure);
  renderLate(snapshot.lateEvents);
  renderUnpaid(snapshot.unpaidOrders);
  renderFunnel(snapshot.funnel);
  renderTop(snapshot.topProducts);
  renderAlerts(snapshot.alerts);
  renderServices(snapshot);
  document.body.dataset.generatedAt = String(snapshot.generatedAt);
}

// ---- live feed ----------------------------------------------------------------------------------------------------
function connect() {
  const conn = tid('connection');
  const state = (s, text) => { conn.dataset.state = s; $('.conn-text', conn).textContent = text; };
  const source = new EventSource('/v1/stream');
  source.addEventListener('open', () => state('live', 'live'));
  source.addEventListener('error', () => state('down', 'reconnecting'));
  source.addEventListener('snapshot', (e) => {
    state('live', 'live');
    try {
      render(JSON.parse(e.data));
    } catch (err) {
      console.error('render failed', err);
    }
  });
}

// ---- recommendations for a chosen user ------------------------------------------------------------------------------
let recUser = new URLSearchParams(location.search).get('user') || '';
let recTimer;

async function loadRecs() {
  const status = tid('recs-status');
  const body = $('tbody', tid('recs'));
  if (!recUser) return;
  let res, json;
  try {
    res = await fetch(`/v1/recommendations/users/${encodeURIComponent(recUser)}?k=10`);
    json = await res.json();
  } catch (err) {
    json = { error: String(err) };
  }
  if (!res || !res.ok) {
    status.dataset.state = 'unavailable';
    status.textContent = res && res.status === 400 ? json.error : `unavailable · ${json.error || res.status}`;
    body.replaceChildren();
    return;
  }
  status.dataset.state = 'ok';
  const items = Array.isArray(json.items) ? json.items : [];
  status.textContent = `for ${recUser}${json.strategy ? ` · ${json.strategy}` : ''} · ${items.length} item${items.length === 1 ? '' : 's'} · ${hhmmss(Date.now())}`;
  if (!items.length) return body.replaceChildren(el('tr', {}, el('td', { class: 'empty', colspan: 4 }, 'nothing to recommend yet')));
  body.replaceChildren(
    ...items.map((it, i) =>
      el('tr', { 'data-testid': `rec-${i}` },
        el('td', {}, i + 1),
        el('td', { 'data-testid': `rec-${i}-product`, title: it.productId }, it.productId),
        el('td', { class: 'num', 'data-testid': `rec-${i}-score` }, Number(it.score).toLocaleString('en-US', { maximumFractionDigits: 3 })),
        el('td', { title: it.reason }, it.reason ?? '')),
    ),
  );
}

function chooseUser(user) {
  recUser = user.trim();
  const url = new URL(location.href);
  if (recUser) url.searchParams.set('user', recUser);
  else url.searchParams.delete('user');
  history.replaceState(null, '', url);
  clearInterval(recTimer);
  if (!recUser) return;
  tid('recs-status').textContent = `loading ${recUser}…`;
  void loadRecs();
  recTimer = setInterval(loadRecs, 5000);
}

tid('recs-form').addEventListener('submit', (e) => {
  e.preventDefault();
  chooseUser(tid('recs-user').value);
});
if (recUser) {
  tid('recs-user').value = recUser;
  chooseUser(recUser);
}

connect();
