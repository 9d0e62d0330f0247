// The dashboard page: one server-sent event stream (/v1/stream, read with fetch so that it can carry an API
// key), one render per snapshot. No build step; Chart.js is
// served by the dashboard from node_modules (window.Chart).
const $ = (sel) => document.querySelector(sel);
const num = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const money = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const pct = (r) => (r === null || r === undefined ? '—' : `${(r * 100).toFixed(2)} %`);
const clock = (ms) => new Date(ms).toISOString().slice(11, 16);
const stamp = (ms) => (ms === null || ms === undefined ? '—' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19));

function text(sel, value) {
  const el = $(sel);
  if (el.textContent !== value) el.textContent = value;
}

function rows(sel, items, empty) {
  const el = $(sel);
  el.replaceChildren();
  if (items.length === 0) {
    const li = document.createElement(el.tagName === 'TABLE' ? 'tr' : 'li');
    li.className = 'empty';
    li.textContent = empty;
    el.append(li);
    return;
  }
  for (const item of items) el.append(item);
}

function tr(cells, testid) {
  const row = document.createElement('tr');
  if (testid) row.dataset.testid = testid;
  for (const c of cells) {
    const td = document.createElement('td');
    td.textContent = c;
    row.append(td);
  }
  return row;
}

Chart.defaults.color = '#8b98a9';
Chart.defaults.borderColor = '#263040';
Chart.defaults.animation = false;
const perMinute = new Chart($('#per-minute'), {
  data: {
    labels: [],
    datasets: [
      { type: 'bar', label: 'GMV', data: [], backgroundColor: '#3fb6a8', yAxisID: 'gmv' },
      { type: 'line', label: 'orders', data: [], borderColor: '#e3a33b', backgroundColor: '#e3a33b', yAxisID: 'orders', tension: 0.25, pointRadius: 2 },
    ],
  },
  options: {
    maintainAspectRatio: false,
    scales: { gmv: { position: 'left', beginAtZero: true }, orders: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false } } },
  },
});
const failures = new Chart($('#payment-failures'), {
  type: 'line',
  data: { labels: [], datasets: [{ label: 'failed / payments', data: [], borderColor: '#e5534b', backgroundColor: '#e5534b', tension: 0.25, pointRadius: 2 }] },
  options: { maintainAspectRatio: false, scales: { y: { beginAtZero: true, ticks: { callback: (v) => `${Math.round(v * 100)} %` } } }, plugins: { legend: { display: false } } },
});
const funnelChart = new Chart($('#funnel'), {
  type: 'bar',
  data: { labels: [], datasets: [{ label: 'sessions', data: [], backgroundColor: ['#3fb6a8', '#4fa3d9', '#a27be0', '#e3a33b'] }] },
  options: { indexAxis: 'y', maintainAspectRatio: false, plugins: { legend: { display: false } } },
});

function render(s) {
  const down = new Set(s.unavailable);
  text('[data-testid=watermark]', stamp(s.watermark));

  const services = $('[data-testid=services]');
  services.replaceChildren(
    ...s.services.map((svc) => {
      const el = document.createElement('div');
      el.className = `service${svc.ready ? ' ready' : ''}`;
      el.dataset.testid = `service-${svc.name}`;
      el.innerHTML = '<span class="dot"></span><span class="name"></span><span class="lag"></span>';
      el.querySelector('.name').textContent = svc.name;
      el.querySelector('.lag').textContent = svc.ready ? (svc.lag === null ? 'ready' : `lag ${num.format(svc.lag)}`) : 'down';
      return el;
    }),
  );

  const aggDown = down.has('aggregation');
  const m = s.lastMinute;
  text('[data-testid=gmv]', aggDown ? 'unavailable' : m ? money.format(m.gmv) : '—');
  text('[data-testid=orders]', aggDown ? 'unavailable' : m ? num.format(m.orders) : '—');
  text('[data-testid=unique-visitors]', aggDown ? 'unavailable' : m && m.uniqueVisitors !== null ? num.format(m.uniqueVisitors) : '—');
  text('[data-testid=minute]', m ? `${clock(m.windowStart)}–${clock(m.windowEnd)} UTC` : 'no complete minute yet');
  const pf = s.paymentFailure.latest;
  text('[data-testid=payment-failure-rate]', aggDown ? 'unavailable' : pf ? pct(pf.ratio) : '—');
  text('[data-testid=payment-failure-detail]', pf ? `${num.format(pf.failed)} of ${num.format(pf.payments)} payments, to ${clock(pf.windowEnd)}` : '—');
  text('[data-testid=late-events]', aggDown ? 'unavailable' : num.format(s.lateEvents.total));
  const byType = Object.entries(s.lateEvents.byType).filter(([, n]) => n > 0);
  text('[data-testid=late-events-detail]', byType.length ? byType.map(([t, n]) => `${t} ${n}`).join(', ') : 'none');
  text('[data-testid=alert-count]', s.alerts === null ? 'unavailable' : num.format(s.alerts.length));

  perMinute.data.labels = s.perMinute.map((p) => clock(p.windowStart));
  perMinute.data.datasets[0].data = s.perMinute.map((p) => p.gmv);
  perMinute.data.datasets[1].data = s.perMinute.map((p) => p.orders);
  perMinute.update();
  failures.data.labels = s.paymentFailure.series.map((p) => clock(p.windowEnd));
  failures.data.datasets[0].data = s.paymentFailure.series.map((p) => p.ratio);
  failures.update();

  const f = s.funnel;
  text('[data-testid=funnel-window]', f ? `${clock(f.windowStart)}–${clock(f.windowEnd)}${f.final ? '' : ' (open)'}` : '—');
  funnelChart.data.labels = f ? f.stages.map((st) => st.name) : [];
  funnelChart.data.datasets[0].data = f ? f.stages.map((st) => st.sessions) : [];
  funnelChart.update();
  if (aggDown) rows('[data-testid=funnel]', [], 'unavailable');
  else
    rows(
      '[data-testid=funnel]',
      f ? f.stages.map((st, i) => tr([st.name, num.format(st.sessions), i === 0 ? '' : pct(f.rates[i - 1].rate)], `funnel-${st.name}`)) : [],
      'no sessions yet',
    );

  const top = s.topProducts;
  if (aggDown) rows('[data-testid=top-products]', [], 'unavailable');
  else rows('[data-testid=top-products]', top ? top.items.map((it, i) => tr([`${i + 1}.`, it.key, num.format(it.value)], `top-${i + 1}`)) : [], 'no views yet');

  if (s.alerts === null) rows('[data-testid=alerts]', [], 'alerting service unavailable');
  else
    rows(
      '[data-testid=alerts]',
      s.alerts.map((a) => {
        const li = document.createElement('li');
        li.innerHTML = '<span class="state"></span> <strong class="rule"></strong><span class="summary"></span>';
        li.querySelector('.state').className = a.state;
        li.querySelector(`.${a.state}`).textContent = a.state;
        li.querySelector('.rule').textContent = `${a.rule}${Object.keys(a.labels).length ? ` {${Object.entries(a.labels).map(([k, v]) => `${k}=${v}`).join(', ')}}` : ''}`;
        li.querySelector('.summary').textContent = `${a.summary} — since ${stamp(a.startsAt)}`;
        return li;
      }),
      'no active alerts',
    );

  const user = $('#user').value.trim();
  if (!user) rows('[data-testid=recommendations]', [], 'choose a user');
  else if (!s.recommendations) rows('[data-testid=recommendations]', [], down.has('recommendation') ? 'recommendation service unavailable' : '…');
  else
    rows(
      '[data-testid=recommendations]',
      s.recommendations.items.map((it) => {
        const li = document.createElement('li');
        li.innerHTML = '<strong></strong> <span class="score"></span><span class="reason"></span>';
        li.querySelector('strong').textContent = it.productId;
        li.querySelector('.score').textContent = it.score.toFixed(3);
        li.querySelector('.reason').textContent = it.reason;
        return li;
      }),
      'nothing to recommend yet',
    );
}

// With API keys configured (docs/security.md) the data routes want a `read` key: the page asks for one and
// keeps it for this tab only (sessionStorage).
const KEY = 'tidemark-api-key';
let stream;
async function connect() {
  stream?.abort();
  const ctl = (stream = new AbortController());
  const user = $('#user').value.trim();
  const key = sessionStorage.getItem(KEY);
  let res;
  try {
    res = await fetch(`/v1/stream${user ? `?user=${encodeURIComponent(user)}` : ''}`, {
      headers: key ? { authorization: `Bearer ${key}` } : {},
      signal: ctl.signal,
    });
  } catch {
    return retry(ctl);
  }
  if (res.status === 401 || res.status === 403) {
    sessionStorage.removeItem(KEY);
    $('#key-form').hidden = false;
    $('#connection').className = 'pill down';
    text('#connection', res.status === 401 ? 'API key needed' : 'this key cannot read');
    return;
  }
  if (!res.ok || !res.body) return retry(ctl);
  $('#key-form').hidden = true;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        if (event === 'snapshot') {
          $('#connection').className = 'pill live';
          text('#connection', 'live');
          render(JSON.parse(data));
        }
      }
    }
  } catch {
    // the stream broke: reconnect below
  }
  retry(ctl);
}

function retry(ctl) {
  if (ctl.signal.aborted) return;
  $('#connection').className = 'pill down';
  text('#connection', 'reconnecting');
  setTimeout(() => {
    if (!ctl.signal.aborted) connect();
  }, 1000);
}

$('#key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem(KEY, $('#key').value.trim());
  $('#key').value = '';
  connect();
});

$('#user-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const params = new URLSearchParams(location.search);
  params.set('user', $('#user').value.trim());
  history.replaceState(null, '', `?${params}`);
  connect();
});
$('#user').value = new URLSearchParams(location.search).get('user') ?? '';
connect();
