// meshd's dashboard: polls the API with the token it was given and draws what it answers. Every value from the API
// (service names, labels, policy text) is untrusted: the DOM is built with createElement and textContent only.
'use strict';

(() => {
  const POLL_MS = 1500;
  const FETCH_TIMEOUT_MS = 5000;
  const TOKEN_KEY = 'meshd.token';
  const MAX_DIFF_LINES = 2000;
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const state = {
    view: 'overview',
    timer: 0,
    running: false,
    generation: 0,
    services: [],
    fleet: null,
    policies: {},
    selected: null,
    history: null, // { service, version, entries }
    diffFrom: null,
    diffTo: null,
    followLatest: true,
  };

  const $ = (id) => document.getElementById(id);

  /** An element with attributes and children; strings become text nodes, never markup. */
  function el(tag, attributes, ...children) {
    return build(document.createElement(tag), attributes, children);
  }

  function svg(tag, attributes, ...children) {
    return build(document.createElementNS(SVG_NS, tag), attributes, children);
  }

  function build(node, attributes, children) {
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null || value === false) {
        continue;
      }
      if (name.startsWith('on')) {
        node.addEventListener(name.slice(2), value);
      } else {
        node.setAttribute(name, value === true ? '' : String(value));
      }
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) {
        continue;
      }
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // ---- formatting ----------------------------------------------------------------------------------------------

  function percent(rate) {
    if (typeof rate !== 'number' || !Number.isFinite(rate)) {
      return '–';
    }
    const value = rate * 100;
    return (value >= 99.95 && value < 100 ? '99.9' : value.toFixed(value === 100 ? 0 : 1)) + ' %';
  }

  function ms(value) {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      return '–';
    }
    return (value < 10 ? value.toFixed(1) : Math.round(value).toString()) + ' ms';
  }

  function rate(value) {
    return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(value < 10 ? 1 : 0) : '–';
  }

  function successClass(value, requests) {
    if (!requests || typeof value !== 'number') {
      return 'idle';
    }
    return value >= 0.99 ? 'good' : value >= 0.95 ? 'warn' : 'bad';
  }

  function relative(iso) {
    const at = Date.parse(iso);
    if (Number.isNaN(at)) {
      return '–';
    }
    const seconds = Math.round((at - Date.now()) / 1000);
    const size = Math.abs(seconds);
    const text = size < 90 ? `${size} s` : size < 5400 ? `${Math.round(size / 60)} min` : size < 172800 ? `${Math.round(size / 3600)} h` : `${Math.round(size / 86400)} d`;
    return seconds >= 0 ? `in ${text}` : `${text} ago`;
  }

  function clock(date) {
    return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  // ---- the token -----------------------------------------------------------------------------------------------

  /** Takes a token from #token=… and removes the fragment from the address bar (and the history) at once. */
  function takeTokenFromFragment() {
    if (location.hash.length < 2) {
      return;
    }
    const token = new URLSearchParams(location.hash.slice(1)).get('token');
    if (token === null) {
      return;
    }
    history.replaceState(null, '', location.pathname + location.search);
    if (token.length > 0) {
      sessionStorage.setItem(TOKEN_KEY, token);
    }
  }

  function showLogin(message) {
    stop();
    $('login').hidden = false;
    $('tabs').hidden = true;
    $('sign-out').hidden = true;
    for (const view of document.querySelectorAll('.view')) {
      view.hidden = true;
    }
    const error = $('login-error');
    error.hidden = !message;
    error.textContent = message || '';
    setStatus(message ? 'error' : 'idle', message ? 'Not signed in' : 'A token is needed');
    $('token').focus();
  }

  function signIn(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    $('login').hidden = true;
    $('tabs').hidden = false;
    $('sign-out').hidden = false;
    showView(state.view);
    start();
  }

  // ---- the API -------------------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function get(path, { optional = false } = {}) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    let response;
    try {
      response = await fetch(path, {
        headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
        cache: 'no-store',
        credentials: 'omit',
        redirect: 'error',
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
    } catch {
      throw new ApiError(0, `meshd is unreachable at ${location.origin}; retrying every ${POLL_MS / 1000} s.`);
    }
    if (optional && response.status === 404) {
      return null;
    }
    if (!response.ok) {
      let detail = '';
      try {
        const problem = await response.json();
        detail = [problem.title, problem.detail].filter((p) => typeof p === 'string').join(': ');
      } catch {
        // not a problem document
      }
      throw new ApiError(response.status, `GET ${path} answered ${response.status}${detail ? ` (${detail})` : ''}.`);
    }
    return response.json();
  }

  // Each start is a new generation: a poll still in flight from before a sign-out ends without drawing or polling again.
  function start() {
    if (!state.running) {
      state.running = true;
      poll(++state.generation);
    }
  }

  function stop() {
    state.running = false;
    state.generation++;
    clearTimeout(state.timer);
  }

  const current = (generation) => state.running && generation === state.generation;

  async function poll(generation) {
    if (!current(generation)) {
      return;
    }
    try {
      const [services, fleet, policies] = await Promise.all([
        get('/v1/services'),
        get('/v1/fleet/stats', { optional: true }),
        get('/v1/policies'),
      ]);
      if (!current(generation)) {
        return;
      }
      state.services = Array.isArray(services?.services) ? services.services : [];
      state.fleet = fleet;
      state.policies = policies && typeof policies === 'object' ? policies : {};
      await refreshHistory();
      render();
      setStatus('live', `Live · ${state.services.length} services · updated ${clock(new Date())}`);
    } catch (error) {
      if (!current(generation)) {
        return;
      }
      if (!(error instanceof ApiError)) {
        // An answer that is not what the page expects: said, and polled again like any other failure.
        setStatus('error', `The page could not show meshd's answer: ${error.message}`);
      } else if (error.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        showLogin(`meshd refused the token (401 Unauthorized). ${error.message}`);
        return;
      } else {
        setStatus('error', error.status === 0 ? error.message
        : error.status === 403 ? `This token may not read the dashboard's routes (403 Forbidden). ${error.message}`
        : error.message);
      }
    }
    if (current(generation)) {
      state.timer = setTimeout(() => poll(generation), POLL_MS);
    }
  }

  function setStatus(kind, text) {
    const status = $('status');
    status.className = kind;
    status.textContent = text;
  }

  // ---- views ---------------------------------------------------------------------------------------------------

  function showView(view) {
    state.view = view;
    for (const button of document.querySelectorAll('#tabs button')) {
      button.classList.toggle('selected', button.dataset.view === view);
    }
    for (const section of document.querySelectorAll('.view')) {
      section.hidden = section.id !== `view-${view}`;
    }
  }

  function render() {
    renderServices();
    renderGraph();
    renderEdges();
    renderInstances();
    renderPolicies();
  }

  function metricsOf(service) {
    return (state.fleet?.services || []).find((m) => m.service === service) || null;
  }

  function renderServices() {
    const rows = state.services.map((service) => {
      const instances = service.instances || [];
      const ejected = instances.filter((i) => (i.ejectedBy || []).length > 0).length;
      const lagging = instances.filter((i) => i.report && !i.report.converged).length;
      const silent = instances.filter((i) => !i.report).length;
      const metrics = metricsOf(service.name);
      return el('tr', { 'data-service': service.name },
        el('td', { class: 'name' }, service.name),
        el('td', { 'data-field': 'instances' }, String(instances.length), ejected ? ' ' : null, ejected ? el('span', { class: 'badge bad' }, `${ejected} ejected`) : null),
        el('td', { 'data-field': 'policy' }, service.policyVersion == null ? 'none' : `v${service.policyVersion}`),
        converged(service, instances.length, lagging, silent),
        el('td', null, (service.callers || []).join(', ') || '–'),
        el('td', { class: 'num' }, rate(metrics?.requestsPerSecond)),
        el('td', { class: `num ${successClass(metrics?.successRate, metrics?.requests)}`, 'data-field': 'success' }, metrics?.requests ? percent(metrics.successRate) : '–'),
        el('td', { class: 'num' }, metrics?.requests ? ms(metrics.p50Ms) : '–'),
        el('td', { class: 'num' }, metrics?.requests ? ms(metrics.p95Ms) : '–'),
        el('td', { class: 'num' }, metrics?.requests ? ms(metrics.p99Ms) : '–'));
    });
    $('services').tBodies[0].replaceChildren(...(rows.length ? rows : [el('tr', null, el('td', { colspan: 10, class: 'note' }, 'meshd knows no service yet.'))]));
    const note = $('fleet-note');
    note.hidden = state.fleet !== null;
    note.textContent = 'This meshd serves no fleet metrics (GET /v1/fleet/stats): golden metrics and edges are not shown.';
  }

  function converged(service, count, lagging, silent) {
    const [kind, text] = lagging > 0 ? ['warn', `no: ${lagging} lagging`]
      : silent > 0 ? ['muted', silent === count ? 'no report yet' : `${silent} not reported`]
      : service.converged === false ? ['warn', 'no']
      : ['good', 'yes'];
    return el('td', { 'data-field': 'converged', class: kind }, text);
  }

  function renderEdges() {
    const edges = state.fleet?.edges || [];
    const rows = edges.map((edge) => el('tr', { 'data-edge': `${edge.caller}->${edge.service}` },
      el('td', { class: 'name' }, edge.caller),
      el('td', { class: 'name' }, edge.service),
      el('td', { title: edge.source === 'client' ? "the caller's instances reported these calls" : "only the service's instances reported them" }, edge.source),
      el('td', { class: 'num' }, rate(edge.requestsPerSecond)),
      el('td', { class: `num ${successClass(edge.successRate, edge.requests)}`, 'data-field': 'success' }, percent(edge.successRate)),
      el('td', { class: 'num' }, ms(edge.p50Ms)),
      el('td', { class: 'num' }, ms(edge.p95Ms)),
      el('td', { class: 'num' }, ms(edge.p99Ms))));
    $('edges').tBodies[0].replaceChildren(...(rows.length ? rows : [el('tr', null, el('td', { colspan: 8, class: 'note' }, 'No calls reported in the last minute.'))]));
  }

  /** Services in columns by their longest path from a service nobody calls; an edge per caller → service pair. */
  function renderGraph() {
    const edges = state.fleet?.edges || [];
    const names = new Set(state.services.map((s) => s.name));
    for (const edge of edges) {
      names.add(edge.caller);
      names.add(edge.service);
    }
    const nodes = [...names].sort();
    const depth = new Map(nodes.map((n) => [n, 0]));
    for (let round = 0; round < nodes.length; round++) {
      let changed = false;
      for (const edge of edges) {
        if (edge.caller !== edge.service && depth.get(edge.service) < depth.get(edge.caller) + 1) {
          depth.set(edge.service, depth.get(edge.caller) + 1);
          changed = true;
        }
      }
      if (!changed) {
        break;
      }
    }
    const columns = [];
    for (const node of nodes) {
      const d = Math.min(depth.get(node), nodes.length);
      (columns[d] ||= []).push(node);
    }
    const width = 150;
    const height = 36;
    const gapX = 170;
    const gapY = 34;
    const position = new Map();
    columns.forEach((column, x) => (column || []).forEach((node, y) => position.set(node, { x: 10 + x * (width + gapX), y: 30 + y * (height + gapY) })));
    const total = { w: 20 + Math.max(1, columns.length) * (width + gapX) - gapX, h: 40 + Math.max(1, ...columns.map((c) => (c || []).length)) * (height + gapY) };

    const graph = $('graph');
    graph.setAttribute('viewBox', `0 0 ${total.w} ${total.h}`);
    graph.setAttribute('width', String(total.w));
    graph.setAttribute('height', String(total.h));
    const defs = svg('defs', null,
      svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '10', refY: '5', markerWidth: '8', markerHeight: '8', orient: 'auto-start-reverse' },
        svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrow' })));
    const lines = edges.filter((e) => position.has(e.caller) && position.has(e.service) && e.caller !== e.service).map((edge) => {
      const from = position.get(edge.caller);
      const to = position.get(edge.service);
      const x1 = from.x + width;
      const y1 = from.y + height / 2;
      const x2 = to.x;
      const y2 = to.y + height / 2;
      const bend = Math.max(40, (x2 - x1) / 2);
      const kind = successClass(edge.successRate, edge.requests);
      return svg('g', { class: `edge ${kind}`, 'data-edge': `${edge.caller}->${edge.service}` },
        svg('title', null, `${edge.caller} → ${edge.service}: ${rate(edge.requestsPerSecond)}/s, ${percent(edge.successRate)} ok, p50 ${ms(edge.p50Ms)}, p99 ${ms(edge.p99Ms)} (${edge.source})`),
        svg('path', { d: `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`, 'marker-end': 'url(#arrow)' }),
        svg('text', { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 6, 'text-anchor': 'middle', class: 'edge-label' }, `${percent(edge.successRate)} · p99 ${ms(edge.p99Ms)}`));
    });
    const boxes = nodes.filter((n) => position.has(n)).map((node) => {
      const at = position.get(node);
      const service = state.services.find((s) => s.name === node);
      const ejected = (service?.instances || []).some((i) => (i.ejectedBy || []).length > 0);
      const label = node.length > 18 ? `${node.slice(0, 17)}…` : node;
      return svg('g', { class: `node${service ? '' : ' external'}${ejected ? ' ejected' : ''}`, 'data-node': node },
        svg('title', null, service ? `${node}: ${(service.instances || []).length} instances` : `${node} (not registered)`),
        svg('rect', { x: at.x, y: at.y, width, height, rx: 6 }),
        svg('text', { x: at.x + width / 2, y: at.y + height / 2 + 5, 'text-anchor': 'middle' }, label));
    });
    graph.replaceChildren(defs, ...lines, ...boxes);
  }

  function renderInstances() {
    const container = $('instances');
    if (state.services.length === 0) {
      container.replaceChildren(el('p', { class: 'note' }, 'No instance is registered.'));
      return;
    }
    const blocks = state.services.map((service) => {
      const instances = service.instances || [];
      const rows = instances.map(instanceRow);
      return el('div', { class: 'service-block', 'data-service': service.name },
        el('h3', null, service.name, ' ', el('span', { class: 'muted' }, service.policyVersion == null ? 'no policy' : `policy v${service.policyVersion}`)),
        instances.length === 0 ? el('p', { class: 'note' }, 'No registered instance (a policy only).') : el('table', { class: 'instances' },
          el('thead', null, el('tr', null, ['Instance', 'Address', 'Zone', 'Labels', 'Weight', 'Runs', 'Certificate expires', 'Reported', 'Ejected by'].map((h) => el('th', null, h)))),
          el('tbody', null, rows)));
    });
    container.replaceChildren(...blocks);
  }

  function instanceRow(instance) {
    const report = instance.report;
    const ejectedBy = instance.ejectedBy || [];
    const labels = Object.entries(instance.labels || {}).map(([k, v]) => el('span', { class: 'label' }, `${k}=${v}`));
    const lagging = new Map((report?.lagging || []).map((l) => [l.service, l]));
    const runs = report
      ? (report.policies || []).map((p) => el('span', { class: `policy ${lagging.has(p.service) ? 'lagging' : ''}`, 'data-policy': p.service },
        `${p.service} v${p.policyVersion}`, lagging.has(p.service) ? ` (v${lagging.get(p.service).current} current)` : ''))
        .concat([...lagging.values()].filter((l) => !(report.policies || []).some((p) => p.service === l.service))
          .map((l) => el('span', { class: 'policy lagging', 'data-policy': l.service }, `${l.service}: none (v${l.current} current)`)))
      : [el('span', { class: 'muted' }, 'no report')];
    const expires = report?.certificateExpiresAt;
    const expiresIn = expires ? Date.parse(expires) - Date.now() : NaN;
    return el('tr', { 'data-instance': instance.instanceId, 'data-ejected': ejectedBy.length > 0 ? 'true' : 'false', class: ejectedBy.length > 0 ? 'ejected' : null },
      el('td', { class: 'name' }, instance.instanceId),
      el('td', { class: 'mono' }, instance.address),
      el('td', null, instance.zone || '–'),
      el('td', null, labels.length ? labels : '–'),
      el('td', { class: 'num' }, String(instance.weight ?? 1)),
      el('td', { 'data-field': 'runs' }, runs, (report?.overriddenKeys || []).length
        ? el('span', { class: 'overrides', 'data-field': 'overrides', title: "keys this instance sets itself over meshd's values" }, `local: ${report.overriddenKeys.join(', ')}`)
        : null),
      el('td', { 'data-field': 'certificate', class: expires ? (expiresIn < 0 ? 'bad' : expiresIn < 3600 * 1000 ? 'warn' : null) : null, title: expires || null },
        expires ? relative(expires) : instance.identity ? 'unknown' : '–'),
      el('td', { title: report?.reportedAt || null }, report ? relative(report.reportedAt) : '–'),
      el('td', { 'data-field': 'ejected-by' }, ejectedBy.length ? [el('span', { class: 'badge bad' }, 'ejected'), ' by ', ejectedBy.join(', ')] : '–'));
  }

  // ---- policies ------------------------------------------------------------------------------------------------

  async function refreshHistory() {
    const service = state.selected;
    if (!service) {
      state.history = null;
      return;
    }
    const current = state.policies[service];
    if (!current) {
      state.history = { service, version: null, entries: state.history?.service === service ? state.history.entries : [] };
      return;
    }
    if (state.history?.service === service && state.history.version === current.version) {
      return;
    }
    const entries = await get(`/v1/policies/${encodeURIComponent(service)}/history`, { optional: true }) || [];
    if (state.selected !== service) {
      return;
    }
    entries.sort((a, b) => a.version - b.version);
    state.history = { service, version: current.version, entries };
    const versions = entries.map((e) => e.version);
    if (state.followLatest || !versions.includes(state.diffTo)) {
      state.diffTo = versions.at(-1) ?? null;
      state.diffFrom = versions.length > 1 ? versions.at(-2) : state.diffTo;
    }
    if (!versions.includes(state.diffFrom)) {
      state.diffFrom = versions[0] ?? null;
    }
  }

  function select(service) {
    state.selected = service;
    state.history = null;
    state.followLatest = true;
    refreshHistory().then(renderPolicies, (error) => setStatus('error', error.message));
    renderPolicies();
  }

  function renderPolicies() {
    const names = Object.keys(state.policies).sort();
    $('policy-list').replaceChildren(...(names.length ? names.map((name) => el('li', null,
      el('button', {
        type: 'button',
        class: name === state.selected ? 'selected' : null,
        'data-policy': name,
        onclick: () => select(name),
      }, el('span', { class: 'name' }, name), ' ', el('span', { class: 'version' }, `v${state.policies[name].version}`)))) : [el('li', { class: 'note' }, 'No policy is stored.')]));

    const detail = $('policy-detail');
    const service = state.selected;
    if (!service) {
      return;
    }
    const current = state.policies[service];
    const history = state.history?.service === service ? state.history.entries : [];

    // Redrawn only when something shown changed, so an open version picker stays open between polls.
    const shown = JSON.stringify([service, current?.version ?? null, history.map((e) => e.version), state.diffFrom, state.diffTo]);
    if (detail.dataset.shown === shown) {
      return;
    }
    detail.dataset.shown = shown;
    const heading = el('h3', null, service, ' ', el('span', { class: 'muted', 'data-field': 'version' }, current ? `version ${current.version}` : 'no policy now'));
    const document_ = el('pre', { class: 'policy-text', 'data-field': 'policy' }, current ? JSON.stringify(current.policy, null, 2) : '(deleted)');
    const versionOptions = (chosen) => history.map((e) => el('option', { value: String(e.version), selected: e.version === chosen }, `v${e.version} · ${new Date(e.updatedAt).toLocaleString()}${e.policy == null ? ' (deleted)' : ''}`));
    const from = el('select', { id: 'diff-from', onchange: (e) => { state.diffFrom = Number(e.target.value); state.followLatest = false; renderPolicies(); } }, versionOptions(state.diffFrom));
    const to = el('select', { id: 'diff-to', onchange: (e) => { state.diffTo = Number(e.target.value); state.followLatest = state.diffTo === history.at(-1)?.version; renderPolicies(); } }, versionOptions(state.diffTo));
    const a = history.find((e) => e.version === state.diffFrom);
    const b = history.find((e) => e.version === state.diffTo);
    const rows = history.slice().reverse().map((e) => el('tr', { 'data-version': String(e.version) },
      el('td', null, `v${e.version}`), el('td', { title: e.updatedAt }, new Date(e.updatedAt).toLocaleString()), el('td', null, e.policy == null ? 'deleted' : 'written')));

    const focused = document.activeElement?.id;
    detail.replaceChildren(
      heading,
      document_,
      el('h4', null, 'History'),
      history.length ? el('table', { id: 'history' }, el('thead', null, el('tr', null, el('th', null, 'Version'), el('th', null, 'Written'), el('th', null, ''))), el('tbody', null, rows)) : el('p', { class: 'note' }, 'Loading the history…'),
      el('h4', null, 'Diff'),
      history.length > 0 ? el('div', { class: 'diff-pick' }, el('label', { for: 'diff-from' }, 'from '), from, el('label', { for: 'diff-to' }, ' to '), to) : null,
      a && b ? diffView(a, b) : null);
    if (focused === 'diff-from' || focused === 'diff-to') {
      $(focused).focus();
    }
  }

  function linesOf(entry) {
    return entry.policy == null ? [] : JSON.stringify(entry.policy, null, 2).split('\n');
  }

  /** A line diff by longest common subsequence: the policies are small (meshd bounds a body's size). */
  function diffView(a, b) {
    const left = linesOf(a);
    const right = linesOf(b);
    if (left.length > MAX_DIFF_LINES || right.length > MAX_DIFF_LINES) {
      return el('p', { class: 'note' }, `Too long to compare here (over ${MAX_DIFF_LINES} lines).`);
    }
    const n = left.length;
    const m = right.length;
    const table = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        table[i][j] = left[i] === right[j] ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
      }
    }
    const out = [];
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && left[i] === right[j]) {
        out.push(el('div', { class: 'same' }, `  ${left[i]}`));
        i++;
        j++;
      } else if (i < n && (j === m || table[i + 1][j] >= table[i][j + 1])) {
        out.push(el('div', { class: 'removed' }, `- ${left[i]}`));
        i++;
      } else {
        out.push(el('div', { class: 'added' }, `+ ${right[j]}`));
        j++;
      }
    }
    const changed = out.some((line) => line.className !== 'same');
    return el('div', { class: 'diff', id: 'diff', 'data-from': String(a.version), 'data-to': String(b.version) },
      changed ? out : el('div', { class: 'same' }, `v${a.version} and v${b.version} are the same.`));
  }

  // ---- start ---------------------------------------------------------------------------------------------------

  takeTokenFromFragment();
  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $('token').value.trim();
    $('token').value = '';
    if (token) {
      signIn(token);
    }
  });
  $('sign-out').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin('');
  });
  for (const button of document.querySelectorAll('#tabs button')) {
    button.addEventListener('click', () => showView(button.dataset.view));
  }
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) {
    signIn(token);
  } else {
    showLogin('');
  }
})();
