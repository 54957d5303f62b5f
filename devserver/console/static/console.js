// The console: plain DOM, every call same-origin (the runtime proxies the sandboxes). Text from
// requests is only ever set as textContent, never parsed as HTML.
'use strict';

const POLL_MS = 2000;
const FAULTS = [
  { id: '503x3', label: '503 ×3', spec: { status: 503, count: 3 } },
  { id: 'timeout', label: 'timeout ×1', spec: { mode: 'timeout', count: 1 } },
  { id: '400x1', label: '400 ×1 (permanent)', spec: { status: 400, count: 1 } },
  { id: '403', label: '403 until cleared', spec: { status: 403 } },
];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

function pretty(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
}

async function getJson(path) {
  const response = await fetch(path, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

// --- routes ---------------------------------------------------------------------------------

function routeCard(route) {
  const params = {};
  const inputs = Object.entries(route.params).map(([name, value]) => {
    params[name] = el('input', { value, 'aria-label': name });
    return [el('label', {}, name), params[name]];
  });
  const contentType = el('input', { value: route.contentType || 'application/json' });
  const key = el('input', { placeholder: 'optional' });
  const body = el('textarea', { spellcheck: 'false' }, pretty(route.body));
  const result = el('pre', { class: 'result', hidden: '' });
  async function send() {
    const path = route.path.replace(/\{(\w+)\}/g, (_, name) =>
      encodeURIComponent(params[name] ? params[name].value : name));
    const headers = { 'Content-Type': contentType.value };
    if (key.value) headers['Idempotency-Key'] = key.value;
    result.hidden = false;
    result.textContent = '…';
    try {
      const response = await fetch(path, { method: route.method, headers, body: body.value });
      const text = await response.text();
      result.className = `result status-${String(response.status)[0]}`;
      result.textContent = `${response.status} ${response.statusText}\n${pretty(text)}`;
    } catch (error) {
      result.textContent = String(error);
    }
    refresh();
  }
  return el('details', { class: 'card route', 'data-route': `${route.method} ${route.path}` },
    el('summary', {}, el('span', { class: 'method' }, route.method), el('code', {}, route.path),
      el('div', { class: 'tag' }, route.function,
        route.auth === 'AWS_IAM' ? ' · AWS_IAM in AWS (accepted unsigned here)' : '')),
    inputs,
    el('label', {}, 'Content-Type'), contentType,
    el('label', {}, 'Idempotency-Key'), key,
    el('label', {}, 'body'), body,
    el('button', { class: 'primary', onclick: send }, 'Send'),
    result);
}

async function loadRoutes() {
  const routes = await getJson('/_local/console/routes');
  document.getElementById('route-list').replaceChildren(...routes.map(routeCard));
}

// --- sandboxes ------------------------------------------------------------------------------

const sandboxCards = {};

async function control(name, method, action, spec) {
  const card = sandboxCards[name];
  const response = await fetch(`/_local/console/sandboxes/${name}/${action}`, {
    method,
    headers: spec ? { 'Content-Type': 'application/json' } : {},
    body: spec ? JSON.stringify(spec) : undefined,
  });
  const answer = response.status === 204 ? {} : await response.json();
  const text = method === 'DELETE' ? 'faults cleared'
    : action === 'reset' ? 'sandbox reset'
      : `fault added (${answer.faults} active)`;
  card.controlResult.textContent = response.ok ? text : `failed: ${JSON.stringify(answer)}`;
  refresh();
}

function sandboxCard(name) {
  const summary = el('div', { class: 'tag summary' });
  const list = el('ul', { class: 'received' });
  const controlResult = el('div', { class: 'tag control-result' });
  const buttons = FAULTS.map((f) => el('button', {
    'data-fault': f.id, onclick: () => control(name, 'POST', 'faults', f.spec),
  }, f.label));
  const node = el('div', { class: 'card sandbox', id: `sandbox-${name}`, 'data-sandbox': name },
    el('h3', {}, name), summary,
    el('div', { class: 'faults' }, buttons,
      el('button', { 'data-fault': 'clear', class: 'danger',
        onclick: () => control(name, 'DELETE', 'faults') }, 'clear faults'),
      el('button', { 'data-fault': 'reset', onclick: () => control(name, 'POST', 'reset') },
        'reset')),
    controlResult, list);
  sandboxCards[name] = { node, summary, list, controlResult };
  return node;
}

function renderSandboxes(sandboxes) {
  const container = document.getElementById('sandbox-list');
  if (!Object.keys(sandboxCards).length) container.replaceChildren();
  for (const [name, s] of Object.entries(sandboxes)) {
    if (!sandboxCards[name]) container.append(sandboxCard(name));
    const card = sandboxCards[name];
    if (s.error) { card.summary.textContent = `${s.url} · unreachable: ${s.error}`; continue; }
    card.summary.textContent =
      `${s.url} · ${s.requests} requests · ${s.received_total} accepted · ${s.connections} connections`;
    card.list.replaceChildren(...s.received.map((r) => el('li', { class: 'received-item' },
      el('span', { class: 'method' }, r.method), el('code', {}, r.path), el('br'),
      el('code', { class: 'body' }, typeof r.body === 'string' ? r.body : JSON.stringify(r.body)))));
    if (!s.received.length) card.list.replaceChildren(el('li', { class: 'muted' }, 'nothing yet'));
  }
}

// --- queues and dead letters -----------------------------------------------------------------

function renderQueues(status) {
  const rows = Object.entries(status.queue_depths || {}).map(([name, d]) =>
    el('tr', { 'data-queue': name }, el('td', {}, name), el('td', {}, d.visible),
      el('td', {}, d.in_flight)));
  document.getElementById('queue-depths').replaceChildren(...rows);
}

function deadLetter(message) {
  let envelope = {};
  try { envelope = JSON.parse(message.body); } catch (e) { envelope = { raw: message.body }; }
  const last = envelope.lastError || {};
  return el('div', { class: 'dead', 'data-kind': envelope.kind || 'malformed' },
    el('div', { class: 'reason' }, message.reason || '(no reason given)'),
    el('div', { class: 'tag' },
      `${envelope.kind || 'malformed envelope'} · id ${envelope.id || '?'} · attempt ${envelope.attempt || '?'}`,
      last.status ? ` · last error ${last.status} ${last.code || ''}` : ''),
    el('pre', {}, JSON.stringify(envelope.request || envelope, null, 2)));
}

function renderDeadLetters(messages) {
  document.getElementById('dead-letter-count').textContent = `${messages.length} parked`;
  const list = document.getElementById('dead-letter-list');
  if (!messages.length) {
    list.replaceChildren(el('p', { class: 'muted' }, 'none: nothing was parked'));
    return;
  }
  list.replaceChildren(...messages.map(deadLetter));
}

// --- polling ------------------------------------------------------------------------------------

let refreshing = null;

async function refreshOnce() {
  const line = document.getElementById('status-line');
  try {
    const [sandboxes, status, dead] = await Promise.all([
      getJson('/_local/console/sandboxes'), getJson('/_local/status'),
      getJson('/_local/dead-letters'),
    ]);
    renderSandboxes(sandboxes);
    renderQueues(status);
    renderDeadLetters(dead.messages);
    line.textContent = `updated ${new Date().toLocaleTimeString()} · every ${POLL_MS / 1000} s`;
  } catch (error) {
    line.textContent = `runtime unreachable: ${error}`;
  }
}

function refresh() {
  refreshing = refreshing || refreshOnce().finally(() => { refreshing = null; });
  return refreshing;
}

loadRoutes().catch((error) => {
  document.getElementById('route-list').textContent = String(error);
});
refresh();
setInterval(refresh, POLL_MS);
