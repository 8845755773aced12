/*
 * kumo dashboard: plain JS served by the node (or by `kumo deploy ui` for a tenant). It only
 * reads: GET routes of the node's API and the /events stream; in tenant mode also the local
 * /tenant/status (the providers' view, fetched by the tenant's own CLI with its key). Every
 * value from the chain is put in the page as text (never as HTML); every list is bounded.
 */
'use strict';

const LIST_LIMIT = 50; /* rows asked per list */
const EVENTS_MAX = 200; /* live events kept on the page */
const BLOCKS_SHOWN = 10;
const REFRESH_MS = 5000;

let cfg = { api: '', tenant: false };
let stream = null;
let refreshTimer = null;
let refreshBusy = false;

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') {
      e.className = v;
    } else {
      e.setAttribute(k, v);
    }
  }
  for (const k of kids) {
    e.append(k instanceof Node ? k : document.createTextNode(k === undefined || k === null ? '' : String(k)));
  }
  return e;
}

function section(id, title, wide) {
  const s = el('section', { id: id, class: wide ? 'wide' : '' }, el('h2', {}, title));
  const body = el('div', { class: 'body' }, el('span', { class: 'muted' }, 'loading…'));
  s.append(body);
  document.getElementById('main').append(s);
  return body;
}

function fill(body, ...kids) {
  body.replaceChildren(...kids);
}

function table(cols, rows) {
  if (rows.length === 0) {
    return el('span', { class: 'muted' }, 'none');
  }
  const t = el('table', {}, el('tr', {}, ...cols.map((c) => el('th', {}, c))));
  for (const r of rows) {
    t.append(el('tr', {}, ...r.map((v) => (v instanceof Node ? el('td', {}, v) : el('td', { class: 'mono' }, v)))));
  }
  return t;
}

function short(s) {
  s = String(s || '');
  return s.length > 18 ? s.slice(0, 10) + '…' + s.slice(-6) : s;
}

function depLink(owner, dseq) {
  return el('a', { href: '#/deployment/' + encodeURIComponent(owner) + '/' + encodeURIComponent(dseq) }, short(owner) + '/' + dseq);
}

/* GET path from the node's API (at cfg.api), or from this page's own origin when local. */
async function get(path, local) {
  const r = await fetch((local ? '' : cfg.api) + path, { headers: { Accept: 'application/json' } });
  const j = await r.json();
  if (!r.ok) {
    throw new Error((j.error && (j.error.name + ': ' + j.error.detail)) || 'HTTP ' + r.status);
  }
  return j;
}

function items(j) {
  return Array.isArray(j.items) ? j.items : [];
}

function setStatus(text, bad) {
  const f = document.getElementById('status');
  f.textContent = text;
  f.className = bad ? 'err' : '';
}

function failed(body, e) {
  fill(body, el('span', { class: 'err' }, String(e.message || e)));
}

/* ---- the live event stream ---------------------------------------------------------------- */

function eventLine(type, data) {
  let ev = null;
  try {
    ev = JSON.parse(data);
  } catch (e) {
    ev = null;
  }
  if (type === 'block') {
    return 'block ' + (ev && ev.height);
  }
  const attrs = ev && Array.isArray(ev.attrs) ? ev.attrs.map((a) => a.key + '=' + a.value).join(' ') : '';
  return (ev ? ev.height + ' ' : '') + type + ' ' + (ev && ev.id ? ev.id : '') + ' ' + attrs;
}

function streamOpen(list, query, keep) {
  if (stream !== null) {
    stream.close();
  }
  stream = new EventSource(cfg.api + '/events' + query);
  const add = (type, m) => {
    if (!keep(type, m.data)) {
      return;
    }
    if (list.firstChild && list.firstChild.classList.contains('placeholder')) {
      list.replaceChildren();
    }
    list.prepend(el('li', { class: type === 'block' ? 'ev muted' : 'ev' }, eventLine(type, m.data)));
    while (list.childElementCount > EVENTS_MAX) {
      list.lastChild.remove();
    }
  };
  stream.onmessage = (m) => add('message', m);
  stream.onerror = () => setStatus('event stream interrupted; reconnecting', true);
  stream.onopen = () => setStatus('live');
  return add;
}

/* Named SSE events need a listener per type: the stream's types are known from docs/api.md. */
const EVENT_TYPES = ['block', 'account.transfer', 'deployment.created', 'deployment.updated',
  'deployment.deposited', 'deployment.escrow_low', 'deployment.closing', 'deployment.closed',
  'group.created', 'group.updated', 'group.closed', 'order.created', 'order.matched',
  'order.closed', 'fulfillment.created', 'fulfillment.cancelled', 'fulfillment.evicted',
  'fulfillment.refunded', 'lease.created', 'lease.confirmed', 'lease.paid', 'lease.refused',
  'lease.closing', 'lease.released', 'lease.stale', 'lease.closed', 'provider.created',
  'provider.updated', 'provider.offer', 'provider.deleted'];

function streamTypes(add) {
  for (const t of EVENT_TYPES) {
    stream.addEventListener(t, (m) => add(t, m));
  }
}

/* ---- overview ----------------------------------------------------------------------------- */

async function blocksShow(body, height) {
  const rows = [];
  for (let h = height; h > 0 && h > height - BLOCKS_SHOWN; h--) {
    const b = await get('/blocks/' + h);
    const p = b.proposer ? short(b.proposer.address) : '';
    rows.push([String(h), new Date(Number(b.header.time_ms)).toISOString().slice(11, 23), String((b.txs || []).length), p]);
  }
  fill(body, table(['height', 'time (UTC)', 'txs', 'proposer'], rows));
}

async function overviewRefresh(s) {
  const st = await get('/status');
  document.getElementById('chain').textContent = st.chain_id + ' · height ' + st.height;
  await blocksShow(s.blocks, Number(st.height)).catch((e) => failed(s.blocks, e));
  const vals = items(await get('/validators?limit=' + LIST_LIMIT));
  fill(s.validators, table(['address', 'moniker', 'power'], vals.map((v) => [short(v.address), v.moniker, v.power])));
  const provs = items(await get('/providers?limit=' + LIST_LIMIT));
  provs.sort((a, b) => (a.region + a.owner).localeCompare(b.region + b.owner));
  fill(s.providers, table(['region', 'provider', 'attributes', 'leases', 'free cpu (milli)', 'cpu price'],
    provs.map((p) => [p.region, short(p.owner), (p.attributes || []).map((a) => a.key + '=' + a.value).join(' '),
      String(p.live_lease_count || 0), p.offer ? p.offer.free_cpu_milli : '-', p.offer ? p.offer.price_cpu_per_core : '-'])));
  await ordersShow(s.orders);
  const leases = items(await get('/leases?state=LEASE_ACTIVE&limit=' + LIST_LIMIT));
  fill(s.leases, table(['deployment', 'group', 'provider', 'price/block', 'paid', 'confirmed at'],
    leases.map((l) => [depLink(l.id.order.owner, l.id.order.dseq), String(l.id.order.gseq), short(l.id.provider),
      l.price_total, l.total_paid, l.last_confirmed_height])));
  const deps = items(await get('/deployments?state=DEPLOYMENT_ACTIVE&limit=' + LIST_LIMIT));
  fill(s.deployments, table(['deployment', 'groups', 'escrow', 'paid', 'created at'],
    deps.map((d) => [depLink(d.owner, d.dseq), String(d.group_count), d.escrow, d.total_paid, d.created_height])));
}

async function ordersShow(body) {
  const orders = items(await get('/orders?state=ORDER_OPEN&limit=' + LIST_LIMIT));
  const rows = [];
  for (const o of orders) {
    const id = o.id.owner + '/' + o.id.dseq + '/' + o.id.gseq + '/' + o.id.oseq;
    const bids = items(await get('/fulfillments?order=' + encodeURIComponent(id) + '&limit=' + LIST_LIMIT));
    const bidText = bids.map((b) => short(b.id.provider) + ' ' + b.price_total + ' (' + b.state + ')').join(', ');
    rows.push([depLink(o.id.owner, o.id.dseq), o.id.gseq + '/' + o.id.oseq, o.region, o.price_total, bidText || 'no bids']);
  }
  fill(body, table(['deployment', 'group/order', 'region', 'max price', 'bids'], rows));
}

function overview() {
  const s = {
    blocks: section('blocks', 'Latest blocks'),
    validators: section('validators', 'Validators'),
    providers: section('providers', 'Providers by region', true),
    orders: section('orders', 'Open orders and their bids', true),
    leases: section('leases', 'Active leases'),
    deployments: section('deployments', 'Active deployments'),
  };
  const ev = section('events', 'Live events', true);
  const list = el('ul', { class: 'events', id: 'event-list' }, el('li', { class: 'muted placeholder' }, 'waiting for events…'));
  fill(ev, list);
  streamTypes(streamOpen(list, '', () => true));
  const tick = async () => {
    if (refreshBusy) {
      return;
    }
    refreshBusy = true;
    try {
      await overviewRefresh(s);
    } catch (e) {
      setStatus(String(e.message || e), true);
    } finally {
      refreshBusy = false;
    }
  };
  tick();
  refreshTimer = setInterval(tick, REFRESH_MS);
}

/* ---- one deployment (tenant view) ---------------------------------------------------------- */

function bytesText(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return (i === 0 ? String(n) : n.toFixed(1)) + ' ' + units[i];
}

/* A workload's latest samples summed over its instances (the providers sample every
 * usage_interval_ms; cpu is null on an instance's first sample). */
function usageText(samples) {
  if (samples.length === 0) {
    return '-';
  }
  const sum = (k) => samples.reduce((a, x) => a + (typeof x[k] === 'number' ? x[k] : 0), 0);
  const cpuKnown = samples.some((x) => typeof x.cpu_milli === 'number');
  return 'cpu ' + (cpuKnown ? sum('cpu_milli') + 'm' : '-') + ' · mem ' + bytesText(sum('memory_bytes')) +
    ' · net ↓' + bytesText(sum('net_rx_bytes')) + ' ↑' + bytesText(sum('net_tx_bytes')) +
    ' · disk r ' + bytesText(sum('blk_read_bytes')) + ' w ' + bytesText(sum('blk_write_bytes'));
}

async function tenantShow(body, owner, dseq) {
  if (!cfg.tenant) {
    fill(body, el('span', { class: 'muted' }, 'the providers answer only the owner: run `kumo deploy ui STACK.yml` to see workloads, endpoints and usage'));
    return;
  }
  const st = await get('/tenant/status?owner=' + encodeURIComponent(owner) + '&dseq=' + encodeURIComponent(dseq), true);
  const wl = [];
  const eps = [];
  for (const [addr, p] of Object.entries(st.providers || {})) {
    if (p.error) {
      wl.push(['-', '-', short(addr), 'unreachable: ' + p.error.detail, '']);
      continue;
    }
    for (const w of p.workloads || []) {
      wl.push([w.name, w.running + '/' + w.count + ' running', short(addr), (w.instances || []).map((i) => i.state).join(' '),
        usageText((p.usage || []).filter((x) => x.workload === w.name))]);
    }
    for (const e of p.endpoints || []) {
      eps.push([e.workload, String(e.port), e.url || e.host + ':' + e.host_port, e.scope || '']);
    }
  }
  fill(body, el('h3', {}, 'Workloads'), table(['workload', 'instances', 'provider', 'states', 'usage'], wl),
    el('h3', {}, 'Endpoints'), table(['workload', 'port', 'url', 'scope'], eps));
}

async function deploymentRefresh(s, owner, dseq) {
  const d = await get('/deployments/' + encodeURIComponent(owner) + '/' + encodeURIComponent(dseq));
  const c = d.escrow_cover || {};
  fill(s.dep, table(['state', 'escrow', 'escrow left', 'price/block', 'blocks covered', 'runs out at', 'paid'],
    [[d.state, d.escrow, c.escrow_left, c.price_per_block, c.blocks_covered, c.runs_out_at, d.total_paid]]),
  el('p', { class: d.escrow_low ? 'err' : 'muted' }, d.escrow_low ? 'escrow low' : 'version ' + short(d.version)));
  const q = '?owner=' + encodeURIComponent(owner) + '&dseq=' + encodeURIComponent(dseq) + '&limit=' + LIST_LIMIT;
  const groups = items(await get('/groups' + q));
  fill(s.groups, table(['gseq', 'name', 'state', 'order'], groups.map((g) => [String(g.gseq), g.spec ? g.spec.name : '', g.state, String(g.oseq)])));
  const leases = items(await get('/leases' + q));
  fill(s.leases, table(['group', 'order', 'provider', 'state', 'price/block', 'paid'],
    leases.map((l) => [String(l.id.order.gseq), String(l.id.order.oseq), short(l.id.provider), l.state, l.price_total, l.total_paid])));
  await tenantShow(s.tenant, owner, dseq).catch((e) => failed(s.tenant, e));
  return d;
}

function deployment(owner, dseq) {
  document.getElementById('find-owner').value = owner;
  document.getElementById('find-dseq').value = dseq;
  const s = {
    dep: section('deployment', 'Deployment ' + owner + '/' + dseq, true),
    groups: section('groups', 'Groups'),
    leases: section('dep-leases', 'Leases'),
    tenant: section('tenant', 'Workloads and endpoints (from the providers)', true),
  };
  const ev = section('dep-events', 'Recent events', true);
  const list = el('ul', { class: 'events', id: 'event-list' }, el('li', { class: 'muted placeholder' }, 'waiting for events…'));
  fill(ev, list);
  const prefix = owner + '/' + dseq;
  const mine = (type, data) => {
    if (type === 'block') {
      return false;
    }
    try {
      const id = JSON.parse(data).id || '';
      return id === prefix || id.startsWith(prefix + '/');
    } catch (e) {
      return false;
    }
  };
  let started = false;
  const tick = async () => {
    if (refreshBusy) {
      return;
    }
    refreshBusy = true;
    try {
      const d = await deploymentRefresh(s, owner, dseq);
      if (!started) {
        started = true;
        const q = '?owner=' + encodeURIComponent(owner) + '&from_height=' + encodeURIComponent(d.created_height);
        streamTypes(streamOpen(list, q, mine));
      }
      setStatus('live');
    } catch (e) {
      failed(s.dep, e);
    } finally {
      refreshBusy = false;
    }
  };
  tick();
  refreshTimer = setInterval(tick, REFRESH_MS);
}

/* ---- routing ------------------------------------------------------------------------------ */

function route() {
  if (stream !== null) {
    stream.close();
    stream = null;
  }
  if (refreshTimer !== null) {
    clearInterval(refreshTimer);
    refreshTimer = null;
  }
  document.getElementById('main').replaceChildren();
  const m = /^#\/deployment\/([^/]+)\/([0-9]+)$/.exec(location.hash);
  if (m) {
    deployment(decodeURIComponent(m[1]), m[2]);
  } else {
    overview();
  }
}

async function start() {
  try {
    const r = await fetch('config.json');
    if (r.ok) {
      cfg = Object.assign(cfg, await r.json());
    }
  } catch (e) {
    setStatus('no config.json; reading the node at this address', true);
  }
  if (cfg.tenant && cfg.owner && cfg.dseq && !location.hash) {
    location.hash = '#/deployment/' + cfg.owner + '/' + cfg.dseq;
  }
  document.getElementById('find').addEventListener('submit', (e) => {
    e.preventDefault();
    const o = document.getElementById('find-owner').value.trim();
    const d = document.getElementById('find-dseq').value.trim();
    if (/^kumo1[0-9a-z]+$/.test(o) && /^[0-9]+$/.test(d)) {
      location.hash = '#/deployment/' + o + '/' + d;
    }
  });
  window.addEventListener('hashchange', route);
  route();
}

document.addEventListener('DOMContentLoaded', start);
