// The report page (docs/report.md). Every figure comes from the API with the user's token;
// every stranger's text is inserted as text (textContent), never as markup, and only http(s)
// URLs become links. The token is read from the URL fragment, never sent but as `token=`.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const PAGE = 50; // backlinks per page
  const DEAD_PAGE = 100; // dead URLs per page
  const DEAD_ORDER = [['refdomains', true], ['domain_rating_max', true]];
  const DETAIL = 'url_from,title,domain_rating,ahrefs_rank,anchor,alt,text_pre,text_post,' +
    'link_type,nofollow,first_seen';
  const LABELS = {
    url_to: 'Dead URL', http_code: 'Status', error: 'Error', broken_at: 'Broken since',
    refdomains: 'Ref. domains', backlinks: 'Backlinks', dofollow_backlinks: 'Dofollow',
    domain_rating_max: 'Best DR', anchors_top: 'Top anchors', suggestion: 'Suggested redirect',
  };
  const DEAD_COLUMNS = ['url_to', 'http_code', 'broken_at', 'refdomains', 'backlinks',
    'dofollow_backlinks', 'domain_rating_max', 'anchors_top'];
  const NUMERIC = new Set(['http_code', 'refdomains', 'backlinks', 'dofollow_backlinks',
    'domain_rating_max', 'ahrefs_rank', 'domain_rating', 'ahrefs_top', 'links_internal',
    'links_external', 'page_size', 'redirect']);

  const state = {
    token: '', target: '', mode: 'domain', onePerDomain: false, view: 'dead',
    dead: { offset: 0, order: DEAD_ORDER, rows: [] },
    backlinks: { offset: 0, order: [['ahrefs_rank', true]], rows: [], columns: [] },
    suggestions: new Map(), // dead URL → redirect target (suggested, or edited by the user)
    edited: new Set(),
  };

  class ApiError extends Error {}

  // --- API ---------------------------------------------------------------------------------

  function explain(message) {
    if (message === 'invalid token') {
      return 'This token is not valid. Check the link you were given (the token follows ' +
        '#token= in the address) or ask for a new token.';
    }
    if (message.startsWith('rows limit exceeded')) {
      return 'This token has no rows left for this request (' + message + '). ' +
        'Ask for more rows or a new token.';
    }
    return 'The API refused the request: ' + message;
  }

  function apiParams(params) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== '' && value !== undefined && value !== null) query.append(name, value);
    }
    return query;
  }

  async function api(params) {
    const query = apiParams({ token: state.token, ...params });
    let response;
    try {
      response = await fetch('/?' + query.toString(), { cache: 'no-store', credentials: 'omit' });
    } catch (error) {
      throw new ApiError('The server did not answer (' + error.message + ').');
    }
    let body;
    try {
      body = await response.json();
    } catch (error) {
      throw new ApiError('The server answered something that is not JSON (HTTP ' +
        response.status + ').');
    }
    if (body.error !== undefined) throw new ApiError(explain(String(body.error)));
    return body;
  }

  const quote = (text) => '"' + text.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
  const orderText = (order) => order.map(([name, desc]) => name + (desc ? ':desc' : ':asc')).join(',');

  function common() {
    return { target: state.target, mode: state.mode,
      one_per_domain: state.onePerDomain ? '1' : '' };
  }

  // --- safe DOM --------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === 'class') node.className = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // Stranger text, isolated so that right-to-left marks cannot reorder the page around it.
  const text = (value) => el('bdi', {}, value === undefined || value === null ? '' : String(value));

  function isWeb(url) {
    try {
      const parsed = new URL(url);
      return parsed.protocol === 'http:' || parsed.protocol === 'https:';
    } catch (error) {
      return false;
    }
  }

  // A link only for http(s) URLs; anything else (javascript:, data:, …) stays plain text.
  function link(url) {
    if (!isWeb(url)) return el('span', { class: 'url' }, text(url));
    return el('a', { href: url, class: 'url', rel: 'noopener noreferrer nofollow',
      target: '_blank' }, text(url));
  }

  const isDate = (name) => name.endsWith('_at') || name.endsWith('seen') || name.endsWith('visited');
  const cellClass = (name) => (NUMERIC.has(name) ? 'num' : isDate(name) ? 'date' : '');
  const day = (value) => (value ? String(value).slice(0, 10) : '');

  function show(message) {
    const problem = $('problem');
    problem.textContent = message;
    problem.hidden = !message;
  }

  function status(message) {
    $('status').textContent = message;
  }

  // --- CSV -----------------------------------------------------------------------------

  // A cell a spreadsheet would run as a formula starts with = + - @ (or a tab or CR that
  // some strip first): it gets a leading apostrophe (the same rule as formats.neutralise_cell).
  function neutralise(value) {
    const cell = value === undefined || value === null ? '' : String(value);
    return /^[=+\-@\t\r]/.test(cell) ? "'" + cell : cell;
  }

  function csv(header, rows) {
    const cell = (value) => {
      const safe = neutralise(typeof value === 'boolean' ? String(value) : value);
      return /[",\r\n]/.test(safe) ? '"' + safe.replace(/"/g, '""') + '"' : safe;
    };
    const lines = [header, ...rows].map((row) => row.map(cell).join(','));
    return '\ufeff' + lines.join('\r\n') + '\r\n';
  }

  function download(name, body, type) {
    const url = URL.createObjectURL(new Blob([body], { type }));
    const anchor = el('a', { href: url, download: name, hidden: '' });
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function fileStem() {
    return 'broken-' + state.target.replace(/[^A-Za-z0-9.-]+/g, '_').slice(0, 60);
  }

  // --- tables ----------------------------------------------------------------------------

  function sortHeader(row, columns, order, onSort, extra) {
    row.replaceChildren();
    for (const name of extra.before) row.append(el('th', { scope: 'col' }, el('span', { class: 'sr' }, name)));
    for (const name of columns) {
      const key = order.find(([column]) => column === name);
      const th = el('th', { scope: 'col', 'aria-sort': key ? (key[1] ? 'descending' : 'ascending') : 'none' });
      const button = el('button', { type: 'button', class: 'sort', 'data-column': name },
        (extra.raw ? name : LABELS[name]) || name, el('span', { 'aria-hidden': 'true' }, key === order[0] ? (key[1] ? ' ▼' : ' ▲') : ''));
      button.addEventListener('click', () => onSort(name));
      th.append(button);
      row.append(th);
    }
    for (const name of extra.after) row.append(el('th', { scope: 'col' }, LABELS[name] || name));
  }

  function nextOrder(order, name) {
    const first = order[0];
    if (first && first[0] === name) return [[name, !first[1]]];
    return [[name, NUMERIC.has(name) || name.endsWith('_at') || name.endsWith('seen')]];
  }

  function cellValue(name, value) {
    if (name === 'url_from' || name === 'url_to' || name === 'url_redirect') return link(value);
    if (name === 'anchors_top') { // each anchor isolated: one's RTL mark cannot flip the next
      const list = el('span', {});
      String(value || '').split(' | ').forEach((anchor, i) => list.append(i ? ' | ' : '', text(anchor)));
      return list;
    }
    if (isDate(name)) return day(value);
    if (typeof value === 'boolean') return value ? 'yes' : 'no';
    return text(value);
  }

  // --- dead URLs -------------------------------------------------------------------------

  async function loadDead() {
    const view = state.dead;
    status('Loading dead URLs…');
    const body = await api({ from: 'broken_targets', ...common(),
      order_by: orderText(view.order), limit: DEAD_PAGE, offset: view.offset });
    view.rows = body.targets;
    renderDead(); // first paint; the suggestions fill in when they come
    status(view.rows.length ? `Dead URLs ${view.offset + 1}–${view.offset + view.rows.length}` :
      'No broken backlinks for this target.');
    await loadSuggestions(view.rows);
    for (const input of document.querySelectorAll('#dead-table input.suggestion')) {
      const url = input.dataset.url;
      if (!state.edited.has(url) && !input.value) input.value = state.suggestions.get(url) || '';
    }
    $('dead-table').dataset.suggested = 'true';
  }

  async function loadSuggestions(rows) {
    const missing = rows.filter((row) => !state.suggestions.has(row.url_to)).map((row) => row.url_to);
    for (let start = 0; start < missing.length; start += 1000) { // the endpoint's limit
      const urls = missing.slice(start, start + 1000);
      const response = await fetch('/report/suggestions', {
        method: 'POST', cache: 'no-store', credentials: 'omit',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ token: state.token, urls }),
      }).catch(() => null);
      if (!response || !response.ok) return; // suggestions are a help, not the report
      const body = await response.json().catch(() => ({}));
      if (body.error !== undefined) throw new ApiError(explain(String(body.error)));
      for (const url of urls) state.suggestions.set(url, (body.suggestions || {})[url] || '');
    }
  }

  // Every dead URL of the target (the map is for the whole site, not the page on screen).
  async function allDead() {
    const view = state.dead;
    if (view.offset === 0 && view.rows.length < DEAD_PAGE) return view.rows;
    status('Loading every dead URL…');
    const body = await api({ from: 'broken_targets', ...common(), select: 'url_to',
      order_by: orderText(view.order), limit: 5000000 });
    return body.targets;
  }

  function renderDead() {
    const view = state.dead;
    const table = $('dead-table');
    sortHeader(table.tHead.rows[0], DEAD_COLUMNS, view.order, (name) => {
      view.order = nextOrder(view.order, name);
      view.offset = 0;
      run(loadDead);
    }, { before: ['Expand'], after: ['suggestion'] });
    const tbody = table.tBodies[0];
    tbody.replaceChildren();
    table.dataset.suggested = 'false';
    view.rows.forEach((row, index) => {
      const toggle = el('button', { type: 'button', class: 'expand', 'aria-expanded': 'false',
        'aria-label': 'Show backlinks of dead URL ' + (view.offset + index + 1) }, '+');
      const input = el('input', { type: 'url', class: 'suggestion', spellcheck: 'false',
        'aria-label': 'Suggested redirect for dead URL ' + (view.offset + index + 1) });
      input.value = state.suggestions.get(row.url_to) || '';
      input.dataset.url = row.url_to;
      input.addEventListener('change', () => {
        state.suggestions.set(row.url_to, input.value.trim());
        state.edited.add(row.url_to);
      });
      const tr = el('tr', { class: 'dead' }, el('td', {}, toggle));
      for (const name of DEAD_COLUMNS) {
        let value = row[name];
        if (name === 'http_code') value = row.error ? row.error : row.http_code;
        tr.append(el('td', { class: cellClass(name), 'data-label': LABELS[name] },
          cellValue(name, value)));
      }
      tr.append(el('td', { 'data-label': LABELS.suggestion }, input));
      tbody.append(tr);
      toggle.addEventListener('click', () => run(() => expand(row, tr, toggle)));
    });
    $('dead-prev').disabled = view.offset === 0;
    $('dead-next').disabled = view.rows.length < DEAD_PAGE;
    $('dead-page').textContent = `page ${Math.floor(view.offset / DEAD_PAGE) + 1}`;
  }

  async function expand(row, tr, toggle) {
    const open = tr.nextElementSibling && tr.nextElementSibling.classList.contains('detail');
    if (open) {
      tr.nextElementSibling.remove();
      toggle.setAttribute('aria-expanded', 'false');
      toggle.textContent = '+';
      return;
    }
    status('Loading backlinks…');
    const body = await api({ from: 'broken_backlinks', ...common(), target: row.url_to,
      mode: 'exact', where: 'url_to=' + quote(row.url_to), select: DETAIL,
      order_by: 'ahrefs_rank:desc', limit: 100 });
    const list = el('ul', { class: 'backlinks' });
    for (const link_ of body.refpages) {
      const anchor = link_.anchor || link_.alt;
      list.append(el('li', {},
        el('div', {}, link(link_.url_from)),
        el('div', { class: 'title' }, text(link_.title)),
        el('div', { class: 'muted' }, `DR ${link_.domain_rating} · UR ${link_.ahrefs_rank} · ${link_.link_type}` +
          `${link_.nofollow ? ' · nofollow' : ''} · first seen ${day(link_.first_seen)}`),
        el('blockquote', {}, text(link_.text_pre), ' ', el('mark', {}, text(anchor)), ' ', text(link_.text_post))));
    }
    const columns = DEAD_COLUMNS.length + 2;
    const note = body.refpages.length === 100 ? 'The 100 strongest backlinks (by UR).' : '';
    tr.after(el('tr', { class: 'detail' }, el('td', { colspan: String(columns) }, list, note)));
    toggle.setAttribute('aria-expanded', 'true');
    toggle.textContent = '−';
    status(`${body.refpages.length} backlinks of the dead URL shown.`);
  }

  function exportDead() {
    const header = [...DEAD_COLUMNS, 'error', 'suggested_redirect'];
    const rows = state.dead.rows.map((row) => [...DEAD_COLUMNS.map((name) => row[name]), row.error,
      state.suggestions.get(row.url_to) || '']);
    download(fileStem() + '-dead-urls.csv', csv(header, rows), 'text/csv;charset=utf-8');
  }

  // --- redirect map ------------------------------------------------------------------------

  async function exportMap(format) {
    const rows = await allDead();
    await loadSuggestions(rows);
    const pairs = rows.map((row) => [row.url_to, state.suggestions.get(row.url_to) || ''])
      .filter(([, to]) => to);
    const response = await fetch('/report/redirects?format=' + format, {
      method: 'POST', cache: 'no-store', credentials: 'omit',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ pairs }),
    });
    if (!response.ok) throw new ApiError('The redirect map could not be made (HTTP ' + response.status + ').');
    const body = await response.text();
    const names = { csv: '.csv', nginx: '.nginx.conf', apache: '.apache.conf' };
    download(fileStem() + '-redirects' + names[format], body,
      format === 'csv' ? 'text/csv;charset=utf-8' : 'text/plain;charset=utf-8');
    status(`Redirect map (${format}) exported: ${pairs.length} redirects for ${rows.length} dead URLs.`);
  }

  // --- backlinks ---------------------------------------------------------------------------

  function filters() {
    const where = [];
    const having = [];
    if ($('f-dofollow').checked) where.push('nofollow=false');
    const kind = $('f-status').value;
    if (kind === '4xx') where.push('http_code>=400', 'http_code<500');
    if (kind === '5xx') where.push('http_code>=500');
    if (kind === 'dns') where.push('error="dns"');
    if ($('f-type').value) where.push('link_type=' + quote($('f-type').value));
    const language = $('f-language').value.trim().toLowerCase();
    if (language) where.push('language=' + quote(language));
    const low = $('f-dr-min').value.trim();
    const high = $('f-dr-max').value.trim();
    if (low !== '') having.push('domain_rating>=' + Number.parseInt(low, 10));
    if (high !== '') having.push('domain_rating<=' + Number.parseInt(high, 10));
    const search = $('f-text').value.trim();
    if (search) {
      where.push('or(' + ['url_from', 'url_to', 'anchor', 'title']
        .map((name) => `substring(${name},${quote(search)})`).join(',') + ')');
    }
    return { where: where.join(','), having: having.join(',') };
  }

  function backlinksParams() {
    const view = state.backlinks;
    return { from: 'broken_backlinks', ...common(), ...filters(),
      order_by: orderText(view.order), limit: PAGE, offset: view.offset };
  }

  async function loadBacklinks() {
    const view = state.backlinks;
    const params = backlinksParams();
    $('api-request').value = location.origin + '/?' + apiParams({ token: state.token, ...params }).toString();
    status('Loading backlinks…');
    const body = await api(params);
    view.rows = body.refpages;
    renderBacklinks();
    status(view.rows.length ? `Backlinks ${view.offset + 1}–${view.offset + view.rows.length}` :
      'No backlinks match.');
  }

  function renderBacklinks() {
    const view = state.backlinks;
    const table = $('backlinks-table');
    sortHeader(table.tHead.rows[0], view.columns, view.order, (name) => {
      view.order = nextOrder(view.order, name);
      view.offset = 0;
      run(loadBacklinks);
    }, { before: [], after: [], raw: true }); // the API's 27 column names
    const tbody = table.tBodies[0];
    tbody.replaceChildren();
    for (const row of view.rows) {
      tbody.append(el('tr', {}, ...view.columns.map((name) =>
        el('td', { class: cellClass(name), 'data-label': name }, cellValue(name, row[name])))));
    }
    $('bl-prev').disabled = view.offset === 0;
    $('bl-next').disabled = view.rows.length < PAGE;
    $('bl-page').textContent = `page ${Math.floor(view.offset / PAGE) + 1}`;
  }

  function exportBacklinks() {
    const view = state.backlinks;
    download(fileStem() + '-backlinks.csv',
      csv(view.columns, view.rows.map((row) => view.columns.map((name) => row[name]))),
      'text/csv;charset=utf-8');
  }

  // --- charts and views --------------------------------------------------------------------

  function charts() {
    for (const chart of ['months', 'dr']) {
      $('chart-' + chart).src = '/report/chart.svg?' +
        apiParams({ chart, token: state.token, ...common() }).toString();
    }
  }

  function select(view) {
    state.view = view;
    for (const [name, tab, panel] of [['dead', 'tab-dead', 'dead-view'],
      ['backlinks', 'tab-backlinks', 'backlinks-view']]) {
      const on = name === view;
      $(tab).setAttribute('aria-selected', String(on));
      $(tab).tabIndex = on ? 0 : -1;
      $(panel).hidden = !on;
    }
    return view === 'dead' ? loadDead() : loadBacklinks();
  }

  async function run(action) {
    show('');
    try {
      await action();
    } catch (error) {
      status('');
      show(error instanceof ApiError ? error.message : 'Something went wrong: ' + error.message);
    }
  }

  async function start() {
    state.token = $('token').value.trim();
    state.target = $('target').value.trim();
    state.mode = $('mode').value;
    state.dead.offset = 0;
    state.backlinks.offset = 0;
    if (!state.token) throw new ApiError('A token is needed: open the link you were given, ' +
      'or paste your token.');
    // subscription_info is free: a bad or empty token is told before anything is billed
    const info = await api({ from: 'subscription_info' });
    $('report').hidden = false;
    await select(state.view);
    charts(); // after the first rows: they would compete with them for the server
    status($('status').textContent + ` · ${info.info.rows_left} rows left on this token.`);
  }

  function fromFragment() {
    const params = new URLSearchParams(location.hash.slice(1));
    if (params.get('token')) $('token').value = params.get('token');
    if (params.get('target')) $('target').value = params.get('target');
    if (params.get('mode')) $('mode').value = params.get('mode');
    return params.get('token') && params.get('target');
  }

  function bind() {
    state.backlinks.columns = $('backlinks-table').dataset.columns.split(',');
    $('query').addEventListener('submit', (event) => { event.preventDefault(); run(start); });
    $('filters').addEventListener('submit', (event) => {
      event.preventDefault();
      state.backlinks.offset = 0;
      run(loadBacklinks);
    });
    $('one-per-domain').addEventListener('change', () => {
      state.onePerDomain = $('one-per-domain').checked;
      state.dead.offset = 0;
      state.backlinks.offset = 0;
      run(async () => { await select(state.view); charts(); });
    });
    $('tab-dead').addEventListener('click', () => run(() => select('dead')));
    $('tab-backlinks').addEventListener('click', () => run(() => select('backlinks')));
    for (const tab of ['tab-dead', 'tab-backlinks']) {
      $(tab).addEventListener('keydown', (event) => {
        if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return;
        const other = tab === 'tab-dead' ? 'tab-backlinks' : 'tab-dead';
        $(other).focus();
        run(() => select(other === 'tab-dead' ? 'dead' : 'backlinks'));
      });
    }
    const page = (view, step, load) => () => {
      const size = view === 'dead' ? DEAD_PAGE : PAGE;
      state[view].offset = Math.max(0, state[view].offset + step * size);
      run(load);
    };
    $('dead-prev').addEventListener('click', page('dead', -1, loadDead));
    $('dead-next').addEventListener('click', page('dead', 1, loadDead));
    $('bl-prev').addEventListener('click', page('backlinks', -1, loadBacklinks));
    $('bl-next').addEventListener('click', page('backlinks', 1, loadBacklinks));
    $('export-dead').addEventListener('click', exportDead);
    $('export-backlinks').addEventListener('click', exportBacklinks);
    for (const format of ['csv', 'nginx', 'apache']) {
      $('export-map-' + format).addEventListener('click', () => run(() => exportMap(format)));
    }
    $('copy-request').addEventListener('click', () => {
      $('api-request').select();
      const done = () => status('API request copied.');
      if (navigator.clipboard) navigator.clipboard.writeText($('api-request').value).then(done, () => {});
    });
    if (fromFragment()) run(start);
  }

  document.addEventListener('DOMContentLoaded', bind);
})();
