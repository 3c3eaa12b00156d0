// The authgate admin console: a single page over the management API (/api/v1/…), authenticated
// by the console session (an HttpOnly cookie) and, on every state-changing request, the
// session's CSRF token in X-CSRF-Token. Plain DOM building: text is only ever set through
// textContent or attribute values, never parsed as HTML.
'use strict';

(() => {
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const PAGE_SIZE = 10;
  let session = null; // {client_id, csrf_token, expires_in, idle_timeout}
  let stopPage = () => {}; // stops the current page's timers when the route changes
  let uid = 0;

  // --- DOM helpers ---------------------------------------------------------------------------

  /** h('tag.class', {attr: value, onclick: fn}, ...children): an element; strings become text. */
  function h(spec, attrs, ...children) {
    const [tag, ...classes] = spec.split('.');
    const el = document.createElement(tag);
    if (classes.length) el.className = classes.join(' ');
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = v;
      else if (k === 'value') el.value = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function svg(tag, attrs) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    return el;
  }

  const nextId = (prefix) => `${prefix}-${++uid}`;
  const main = () => document.getElementById('main');

  function when(t) {
    if (!t) return '—';
    return String(t).replace('T', ' ').replace(/(\.\d+)?(Z|[+-]00:00)$/, ' UTC');
  }

  function toast(message) {
    const el = document.getElementById('toast');
    el.textContent = message;
    el.classList.add('show');
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => el.classList.remove('show'), 4000);
  }

  // --- API -----------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body) {
      const detail = (body && Array.isArray(body.details) && body.details[0]) || {};
      super((body && (body.message || body.error_description)) || `request failed (${status})`);
      this.status = status;
      this.code = detail.error_code || (body && body.error) || 'unknown';
      const violations = detail.validation_error_info && detail.validation_error_info.field_violations;
      this.field = violations && violations[0] ? violations[0].field : null;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && session) headers['X-CSRF-Token'] = session.csrf_token;
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
    let data = null;
    const text = await response.text();
    if (text) {
      try { data = JSON.parse(text); } catch { data = null; }
    }
    if (!response.ok) {
      const err = new ApiError(response.status, data);
      if (response.status === 401 && path !== '/console/api/session') signedOut(err.message);
      throw err;
    }
    return data || {};
  }

  const query = (params) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
    const s = q.toString();
    return s ? `?${s}` : '';
  };

  // --- forms and errors next to their fields ------------------------------------------------

  /** A labelled field; `name` is the API's field name, so its errors land next to it. */
  function field(label, name, options = {}) {
    const id = nextId(name);
    const errorId = `${id}-error`;
    const hintId = options.hint ? `${id}-hint` : null;
    const control = options.textarea
      ? h('textarea', { id, name, rows: options.rows || 3, required: options.required, placeholder: options.placeholder })
      : options.select
        ? h('select', { id, name }, options.select.map(([value, text]) => h('option', { value, text })))
        : h('input', {
          id, name, type: options.type || 'text', required: options.required, placeholder: options.placeholder,
          autocomplete: options.autocomplete || 'off', min: options.min, spellcheck: 'false',
        });
    if (options.value !== undefined) control.value = options.value;
    control.setAttribute('aria-describedby', [hintId, errorId].filter(Boolean).join(' '));
    return h('div.field', {},
      h('label', { for: id, text: label }),
      control,
      hintId && h('p.hint', { id: hintId, text: options.hint }),
      h('p.field-error', { id: errorId, 'data-error-for': name }));
  }

  function clearErrors(form) {
    for (const el of form.querySelectorAll('.field-error, .form-error')) el.textContent = '';
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  }

  /** Shows `err` next to the field it concerns (by the API's field name), else on the form. */
  function showError(form, err) {
    const name = err.field && String(err.field).split(/[.[]/)[0];
    const slot = name && form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    const control = name && form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (slot && control) {
      slot.textContent = err.message;
      control.setAttribute('aria-invalid', 'true');
      control.focus();
    } else {
      let general = form.querySelector('.form-error');
      if (!general) {
        general = h('p.form-error', { role: 'alert' });
        form.prepend(general);
      }
      general.textContent = err.message;
    }
  }

  /** A form whose submit runs `action(values)`; API errors are shown in it. */
  function form(label, fields, submitText, action, extra) {
    const f = h('form.form', { 'aria-label': label, novalidate: true }, fields,
      h('div.actions', {}, h('button.primary', { type: 'submit', text: submitText }), extra));
    f.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors(f);
      const button = f.querySelector('button[type=submit]');
      button.disabled = true;
      try {
        await action(Object.fromEntries(new FormData(f).entries()), f);
      } catch (err) {
        if (err instanceof ApiError) showError(f, err);
        else showError(f, { message: err.message });
      } finally {
        button.disabled = false;
      }
    });
    return f;
  }

  /** Parses "key=value" lines; throws an error naming `fieldName` on a bad line. */
  function parseClaims(text, fieldName) {
    const claims = [];
    for (const [i, raw] of String(text || '').split('\n').entries()) {
      const line = raw.trim();
      if (!line) continue;
      const at = line.indexOf('=');
      if (at <= 0) {
        const err = new ApiError(400, { message: `line ${i + 1}: write key=value` });
        err.field = fieldName;
        throw err;
      }
      claims.push([line.slice(0, at).trim(), line.slice(at + 1).trim()]);
    }
    return claims;
  }

  const words = (text) => String(text || '').split(/[\s,]+/).filter(Boolean);

  /** A modal confirmation; resolves true when confirmed. */
  function confirmDialog(title, message, confirmText) {
    return new Promise((resolve) => {
      const titleId = nextId('dialog-title');
      const dialog = h('dialog.dialog', { 'aria-labelledby': titleId },
        h('h2', { id: titleId, text: title }),
        h('p', { text: message }),
        h('div.actions', {},
          h('button', { type: 'button', text: 'Cancel', onclick: () => dialog.close('cancel') }),
          h('button.danger', { type: 'button', text: confirmText, onclick: () => dialog.close('confirm') })));
      dialog.addEventListener('close', () => {
        resolve(dialog.returnValue === 'confirm');
        dialog.remove();
      });
      document.body.append(dialog);
      dialog.showModal();
      dialog.querySelector('button').focus();
    });
  }

  /** The one-time display of a new secret, with a copy button. */
  function shownOnce(label, secret) {
    const id = nextId('secret');
    const input = h('input.secret', { id, readonly: true, value: secret, 'aria-label': label, spellcheck: 'false' });
    const copy = h('button', {
      type: 'button',
      text: 'Copy',
      'aria-label': `Copy ${label}`,
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(secret);
        } catch {
          input.select();
          document.execCommand('copy');
        }
        toast(`${label} copied`);
      },
    });
    return h('section.once', { role: 'alert', 'aria-label': `New ${label}` },
      h('p', {}, h('strong', { text: `Your new ${label}. You will not see this again: ` }),
        'copy it now and store it safely. Only a digest is kept.'),
      h('div.copy-row', {}, h('label.visually-hidden', { for: id, text: label }), input, copy));
  }

  /** A table; `columns` are [header, row => cell content]. */
  function table(caption, columns, rows, empty) {
    if (!rows.length) return h('p.muted', { text: empty });
    return h('div.table-wrap', { tabindex: 0, role: 'region', 'aria-label': caption },
      h('table', {},
        h('caption.visually-hidden', { text: caption }),
        h('thead', {}, h('tr', {}, columns.map(([name]) => h('th', { scope: 'col', text: name })))),
        h('tbody', {}, rows.map((row) => h('tr', {}, columns.map(([name, cell]) => h('td', { 'data-label': name }, cell(row))))))));
  }

  /**
   * A paged list: `load(pageToken)` → {rows, next, prev, total}; `render(rows)` → the list.
   * Returns {el, reload}.
   */
  function paged(label, load, render) {
    const el = h('div.paged', { 'aria-label': label, role: 'group' });
    const tokens = [''];
    let page = 0;
    async function show() {
      let result;
      try {
        result = await load(tokens[page]);
      } catch (err) {
        el.replaceChildren(h('p.form-error', { role: 'alert', text: err.message }));
        return;
      }
      const prev = h('button', { type: 'button', text: 'Previous page', disabled: page === 0 });
      const next = h('button', { type: 'button', text: 'Next page', disabled: !result.next });
      prev.addEventListener('click', () => { page -= 1; show(); });
      next.addEventListener('click', () => { tokens[page + 1] = result.next; page += 1; show(); });
      const pages = Math.max(1, Math.ceil((result.total || 0) / PAGE_SIZE));
      el.replaceChildren(render(result.rows),
        h('nav.pager', { 'aria-label': `${label} pages` }, prev,
          h('span', { text: `Page ${page + 1} of ${pages} · ${result.total || 0} in all` }), next));
    }
    return { el, reload: () => { tokens.length = 1; page = 0; return show(); }, refresh: show };
  }

  function section(title, ...children) {
    const id = nextId('section');
    return h('section.card', { 'aria-labelledby': id }, h('h2', { id, text: title }), children);
  }

  function heading(text, sub) {
    document.title = `${text} · authgate console`;
    return h('div.page-head', {}, h('h1', { text }), sub && h('p.muted', { text: sub }));
  }

  // --- session -------------------------------------------------------------------------------

  function signedOut(message) {
    session = null;
    stopPage();
    document.getElementById('top').hidden = true;
    renderSignIn(message);
  }

  function renderSignIn(message) {
    document.title = 'Sign in · authgate console';
    const f = form('Sign in', [
      field('Client ID', 'client_id', { required: true, placeholder: 'skc_…', autocomplete: 'username' }),
      field('Client secret', 'client_secret', { type: 'password', required: true, autocomplete: 'current-password' }),
    ], 'Sign in', async (values) => {
      session = await api('POST', '/console/api/session', {
        client_id: values.client_id.trim(),
        client_secret: values.client_secret,
      });
      signedIn();
    });
    main().replaceChildren(h('div.signin', {},
      h('h1', { text: 'Sign in to authgate' }),
      h('p.muted', { text: 'Use the environment credentials (AUTHGATE_CLIENT_ID and AUTHGATE_CLIENT_SECRET).' }),
      message && h('p.form-error', { role: 'alert', text: message }),
      f));
    f.querySelector('input').focus();
  }

  function signedIn() {
    document.getElementById('top').hidden = false;
    document.getElementById('whoami').textContent = session.client_id;
    if (!location.hash.startsWith('#/') || location.hash === '#/sign-in') location.hash = '#/dashboard';
    else route();
  }

  async function signOut() {
    try {
      await api('DELETE', '/console/api/session');
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) return toast(err.message);
    }
    signedOut('You are signed out.');
  }

  // --- pages ---------------------------------------------------------------------------------

  const pages = [
    [/^#\/dashboard$/, dashboard],
    [/^#\/organizations$/, organizations],
    [/^#\/organizations\/([^/]+)$/, organization],
    [/^#\/signing-keys$/, signingKeys],
    [/^#\/credentials$/, credentials],
    [/^#\/audit$/, auditLog],
  ];

  function route() {
    if (!session) return;
    const hash = location.hash || '#/dashboard';
    if (!hash.startsWith('#/')) return; // an in-page link such as "Skip to content"
    stopPage();
    stopPage = () => {};
    for (const a of document.querySelectorAll('nav[aria-label="Main"] a')) {
      const current = hash === a.getAttribute('href') || hash.startsWith(`${a.getAttribute('href')}/`);
      if (current) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    for (const [pattern, page] of pages) {
      const m = hash.match(pattern);
      if (m) {
        main().replaceChildren();
        page(...m.slice(1).map(decodeURIComponent));
        main().focus({ preventScroll: true });
        return;
      }
    }
    location.hash = '#/dashboard';
  }

  // Dashboard: rates from the server's own counters, polled every 2 s.
  function dashboard() {
    const series = [
      ['Validations/s', 'validations', (s) => s.validations_valid + s.validations_invalid + s.validations_error + s.validations_rate_limited],
      ['Failures/s', 'failures', (s) => s.validations_invalid + s.validations_error + s.tokens_refused + s.admin_auth_failures],
      ['Token grants/s', 'grants', (s) => s.tokens_issued],
    ];
    const points = 60;
    const history = series.map(() => []);
    let last = null;
    const width = 600;
    const height = 200;
    const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'chart', preserveAspectRatio: 'none' });
    const titleEl = svg('title');
    titleEl.textContent = 'Validations, failures and token grants per second, last two minutes';
    chart.append(titleEl);
    const lines = series.map(([, cls]) => {
      const line = svg('polyline', { class: `line ${cls}`, points: '' });
      chart.append(line);
      return line;
    });
    const figures = h('dl.figures');
    const legend = h('ul.legend', {}, series.map(([name, cls]) => h('li', {}, h(`span.swatch.${cls}`, { 'aria-hidden': 'true' }), name)));
    main().append(heading('Dashboard', 'From this server\'s own metrics (this node), refreshed every 2 seconds.'),
      section('Traffic', h('figure.chart-box', {}, chart, h('figcaption', {}, legend))),
      section('Totals since start', figures));

    async function tick() {
      let s;
      try {
        s = await api('GET', '/console/api/stats');
      } catch {
        return;
      }
      const now = performance.now();
      if (last) {
        const dt = Math.max((now - last.at) / 1000, 0.001);
        series.forEach(([, , pick], i) => {
          history[i].push(Math.max(0, (pick(s) - pick(last.s)) / dt));
          if (history[i].length > points) history[i].shift();
        });
      }
      last = { at: now, s };
      const max = Math.max(1, ...history.flat());
      history.forEach((values, i) => {
        const step = width / (points - 1);
        const offset = points - values.length;
        lines[i].setAttribute('points', values
          .map((v, j) => `${((offset + j) * step).toFixed(1)},${(height - (v / max) * (height - 10)).toFixed(1)}`)
          .join(' '));
      });
      const rows = [
        ['API-key validations (valid)', s.validations_valid],
        ['API-key validations (refused)', s.validations_invalid],
        ['API-key validations (errors)', s.validations_error],
        ['API-key validations (over the key\'s rate limit)', s.validations_rate_limited],
        ['Tokens issued', s.tokens_issued],
        ['Token requests refused', s.tokens_refused],
        ['Failed client authentications', s.client_auth_failures],
        ['Failed management authentications', s.admin_auth_failures],
        ['Refused by brute-force limits', s.rate_limited],
        ['Peak rate in chart (per second)', max.toFixed(1)],
      ];
      figures.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: String(v) })]));
    }
    tick();
    const timer = setInterval(tick, 2000);
    stopPage = () => clearInterval(timer);
  }

  // Organizations: search by id or external id, paging, create, edit, delete.
  function organizations() {
    let search = '';
    const list = paged('Organizations', async (pageToken) => {
      if (search.startsWith('org_')) {
        try {
          const r = await api('GET', `/api/v1/organizations/${encodeURIComponent(search)}`);
          return { rows: [r.organization], total: 1 };
        } catch (err) {
          if (err.code === 'not_found' || err.code === 'invalid_argument') return { rows: [], total: 0 };
          throw err;
        }
      }
      const r = await api('GET', `/api/v1/organizations${query({ page_size: PAGE_SIZE, page_token: pageToken, external_id: search })}`);
      return { rows: r.organizations || [], next: r.next_page_token, total: r.total_size };
    }, (rows) => table('Organizations', [
      ['Name', (o) => h('a', { href: `#/organizations/${encodeURIComponent(o.id)}`, text: o.display_name })],
      ['ID', (o) => h('code', { text: o.id })],
      ['External ID', (o) => o.external_id || '—'],
      ['Created', (o) => when(o.create_time)],
    ], rows, search ? 'No organization matches.' : 'No organizations yet.'));

    const searchForm = h('form.search', { role: 'search', 'aria-label': 'Search organizations' },
      h('label', { for: 'org-search', text: 'Find by ID or external ID' }),
      h('input', { id: 'org-search', type: 'search', name: 'q', placeholder: 'org_… or external id', autocomplete: 'off' }),
      h('button', { type: 'submit', text: 'Search' }),
      h('button', {
        type: 'button',
        text: 'Show all',
        onclick: () => {
          searchForm.q.value = '';
          search = '';
          list.reload();
        },
      }));
    searchForm.addEventListener('submit', (event) => {
      event.preventDefault();
      search = searchForm.q.value.trim();
      list.reload();
    });

    const create = form('Create organization', [
      field('Display name', 'display_name', { required: true }),
      field('External ID (optional)', 'external_id'),
    ], 'Create organization', async (values, f) => {
      const body = { display_name: values.display_name };
      if (values.external_id.trim()) body.external_id = values.external_id.trim();
      const r = await api('POST', '/api/v1/organizations', body);
      f.reset();
      toast(`Organization ${r.organization.display_name} created`);
      list.reload();
    });

    main().append(heading('Organizations'), section('Find', searchForm, list.el), section('New organization', create));
    list.reload();
  }

  function organization(id) {
    const path = `/api/v1/organizations/${encodeURIComponent(id)}`;
    const head = h('div');
    const details = h('div');
    main().append(head, details);
    api('GET', path).then(({ organization: org }) => {
      head.replaceChildren(heading(org.display_name, `${org.id}${org.external_id ? ` · external id ${org.external_id}` : ''}`),
        h('p', {}, h('a', { href: '#/organizations', text: '← All organizations' })));
      details.replaceChildren(
        orgSettings(org, path),
        orgUsers(org),
        orgKeys(org),
        orgClients(org));
    }).catch((err) => {
      head.replaceChildren(heading('Organization'), h('p.form-error', { role: 'alert', text: err.message }),
        h('p', {}, h('a', { href: '#/organizations', text: '← All organizations' })));
    });
  }

  function orgSettings(org, path) {
    const edit = form('Edit organization', [
      field('Display name', 'display_name', { required: true, value: org.display_name }),
      field('External ID', 'external_id', { value: org.external_id || '' }),
    ], 'Save changes', async (values) => {
      const body = { display_name: values.display_name };
      if (values.external_id.trim() !== (org.external_id || '')) body.external_id = values.external_id.trim();
      await api('PATCH', path, body);
      toast('Organization saved');
      route();
    });
    const remove = h('button.danger', {
      type: 'button',
      text: 'Delete organization',
      onclick: async () => {
        if (!await confirmDialog('Delete organization?',
          `Delete ${org.display_name} (${org.id}) with its users' memberships, API keys and M2M clients? This cannot be undone.`,
          'Delete')) return;
        try {
          await api('DELETE', path);
          toast('Organization deleted');
          location.hash = '#/organizations';
        } catch (err) {
          toast(err.message);
        }
      },
    });
    return section('Settings', edit, h('div.danger-zone', {}, remove));
  }

  function orgUsers(org) {
    const list = paged('Users', async (pageToken) => {
      const r = await api('GET', `/api/v1/organizations/${encodeURIComponent(org.id)}/users${query({ page_size: PAGE_SIZE, page_token: pageToken })}`);
      return { rows: r.users || [], next: r.next_page_token, total: r.total_size };
    }, (rows) => table('Users', [
      ['Email', (u) => u.email],
      ['ID', (u) => h('code', { text: u.id })],
      ['External ID', (u) => u.external_id || '—'],
      ['Roles', (u) => ((u.memberships || []).find((m) => m.organization_id === org.id) || { roles: [] }).roles.map((r) => r.name || r).join(', ') || '—'],
    ], rows, 'No users yet.'));
    const create = form('Add user', [
      field('Email', 'email', { type: 'email', required: true }),
      field('External ID (optional)', 'external_id'),
    ], 'Add user', async (values, f) => {
      const body = { email: values.email.trim() };
      if (values.external_id.trim()) body.external_id = values.external_id.trim();
      await api('POST', `/api/v1/organizations/${encodeURIComponent(org.id)}/users`, body);
      f.reset();
      toast('User added');
      list.reload();
      document.dispatchEvent(new CustomEvent('users-changed'));
    });
    list.reload();
    return section('Users', list.el, h('h3', { text: 'Add a user' }), create);
  }

  function claimsText(claims) {
    return Object.entries(claims || {}).map(([k, v]) => `${k}=${v}`).join('\n');
  }

  function orgKeys(org) {
    const onceSlot = h('div');
    const list = paged('API keys', async (pageToken) => {
      const r = await api('GET', `/api/v1/tokens${query({ organization_id: org.id, page_size: PAGE_SIZE, page_token: pageToken })}`);
      return { rows: r.tokens || [], next: r.next_page_token, total: r.total_count };
    }, (rows) => table('API keys', [
      ['Key ID', (t) => h('code', { text: t.token_id })],
      ['User', (t) => t.user_id || 'organization'],
      ['Description', (t) => t.description || '—'],
      ['Claims', (t) => claimsText(t.custom_claims) || '—'],
      ['Created', (t) => when(t.created_at)],
      ['Expires', (t) => when(t.expiry)],
      ...optionalKeyColumns(rows),
      ['Actions', (t) => keyActions(t, list)],
    ], rows, 'No API keys yet.'));

    const userSelect = field('User (optional)', 'user_id', { select: [['', 'Organization-wide key']] });
    async function loadUsers() {
      try {
        const r = await api('GET', `/api/v1/organizations/${encodeURIComponent(org.id)}/users${query({ page_size: 100 })}`);
        userSelect.querySelector('select').replaceChildren(h('option', { value: '', text: 'Organization-wide key' }),
          ...(r.users || []).map((u) => h('option', { value: u.id, text: `${u.email} (${u.id})` })));
      } catch { /* the list stays organization-wide only */ }
    }
    loadUsers();
    document.addEventListener('users-changed', loadUsers);
    const prevStop = stopPage;
    stopPage = () => { prevStop(); document.removeEventListener('users-changed', loadUsers); };

    const create = form('Create API key', [
      userSelect,
      field('Description (optional)', 'description'),
      field('Custom claims (optional)', 'custom_claims', { textarea: true, hint: 'One key=value per line; returned on every validation.' }),
      field('Expires (optional)', 'expiry', { type: 'datetime-local' }),
    ], 'Create API key', async (values, f) => {
      const body = { organization_id: org.id };
      if (values.user_id) body.user_id = values.user_id;
      if (values.description.trim()) body.description = values.description.trim();
      const claims = parseClaims(values.custom_claims, 'custom_claims');
      if (claims.length) body.custom_claims = Object.fromEntries(claims);
      if (values.expiry) body.expiry = new Date(values.expiry).toISOString();
      const r = await api('POST', '/api/v1/tokens', body);
      f.reset();
      onceSlot.replaceChildren(shownOnce('API key', r.token));
      onceSlot.querySelector('input').focus();
      list.reload();
    });
    list.reload();
    return section('API keys', onceSlot, list.el, h('h3', { text: 'Create an API key' }), create);
  }

  /** Columns for key fields the server may or may not return (shown when any row has them). */
  function optionalKeyColumns(rows) {
    const optional = [
      ['Last used', 'last_used_time', (v) => when(v)],
      ['Rotated to', 'rotated_to', (v) => h('code', { text: v })],
      ['Rotated from', 'rotated_from', (v) => h('code', { text: v })],
      ['Rate limit', 'rate_limit', (v) => (typeof v === 'object' ? `${v.limit} per ${v.window_seconds} s` : String(v))],
      ['Networks', 'allowed_cidrs', (v) => (Array.isArray(v) ? v.join(', ') : String(v))],
    ];
    return optional
      .filter(([, key]) => rows.some((r) => r[key] !== undefined && r[key] !== null))
      .map(([name, key, show]) => [name, (r) => (r[key] === undefined || r[key] === null ? '—' : show(r[key]))]);
  }

  function keyActions(t, list) {
    const box = h('div.row-actions');
    const editButton = h('button', { type: 'button', text: 'Edit', 'aria-label': `Edit ${t.token_id}`, 'aria-expanded': 'false' });
    const revoke = h('button.danger', {
      type: 'button',
      text: 'Revoke',
      'aria-label': `Revoke ${t.token_id}`,
      onclick: async () => {
        if (!await confirmDialog('Revoke API key?', `Revoke ${t.token_id}? It stops validating at once. This cannot be undone.`, 'Revoke')) return;
        try {
          await api('POST', '/api/v1/tokens:invalidate', { token: t.token_id });
          toast(`${t.token_id} revoked`);
          list.refresh();
        } catch (err) {
          toast(err.message);
        }
      },
    });
    editButton.addEventListener('click', () => {
      const open = box.querySelector('form');
      if (open) {
        open.remove();
        editButton.setAttribute('aria-expanded', 'false');
        return;
      }
      const f = form(`Edit ${t.token_id}`, [
        field('Description', 'description', { value: t.description || '' }),
        field('Custom claims', 'custom_claims', { textarea: true, value: claimsText(t.custom_claims), hint: 'One key=value per line; replaces all claims.' }),
      ], 'Save', async (values) => {
        await api('POST', '/api/v1/tokens:update', {
          token: t.token_id,
          description: values.description.trim(),
          custom_claims: Object.fromEntries(parseClaims(values.custom_claims, 'custom_claims')),
        });
        toast(`${t.token_id} updated`);
        list.refresh();
      });
      box.append(f);
      editButton.setAttribute('aria-expanded', 'true');
      f.querySelector('input').focus();
    });
    const rotateButton = h('button', { type: 'button', text: 'Rotate', 'aria-label': `Rotate ${t.token_id}`, 'aria-expanded': 'false' });
    rotateButton.addEventListener('click', () => {
      const open = box.querySelector('form');
      if (open) {
        open.remove();
        rotateButton.setAttribute('aria-expanded', 'false');
        editButton.setAttribute('aria-expanded', 'false');
        return;
      }
      const f = form(`Rotate ${t.token_id}`, [
        field('Grace period (seconds)', 'grace_period_seconds', {
          type: 'number',
          value: '86400',
          hint: 'The old key keeps validating this long, then is revoked; 0 revokes it at once.',
        }),
      ], 'Rotate', async (values) => {
        const r = await api('POST', '/api/v1/tokens:rotate', {
          token: t.token_id,
          grace_period_seconds: Number(values.grace_period_seconds),
        });
        f.replaceWith(shownOnce('rotated API key', r.token));
        box.querySelector('input').focus();
        toast(`${t.token_id} rotated to ${r.token_id}`);
      });
      box.append(f);
      rotateButton.setAttribute('aria-expanded', 'true');
      f.querySelector('input').focus();
    });
    box.append(editButton, rotateButton, revoke);
    return box;
  }

  function clientFields(c = {}) {
    return [
      field('Name', 'name', { required: true, value: c.name || '' }),
      field('Description (optional)', 'description', { value: c.description || '' }),
      field('Scopes (optional)', 'scopes', { value: (c.scopes || []).join(' '), hint: 'Separated by spaces.' }),
      field('Audience (optional)', 'audience', { value: (c.audience || []).join(' '), hint: 'Separated by spaces.' }),
      field('Custom claims (optional)', 'custom_claims', {
        textarea: true,
        value: (c.custom_claims || []).map((x) => `${x.key}=${x.value}`).join('\n'),
        hint: 'One key=value per line; copied into its access tokens.',
      }),
      field('Token lifetime in seconds (optional)', 'expiry', { type: 'number', min: 1, value: c.expiry || '' }),
    ];
  }

  function clientBody(values) {
    const body = {
      name: values.name.trim(),
      description: values.description.trim(),
      scopes: words(values.scopes),
      audience: words(values.audience),
      custom_claims: parseClaims(values.custom_claims, 'custom_claims').map(([key, value]) => ({ key, value })),
    };
    if (String(values.expiry).trim()) body.expiry = Number(values.expiry);
    return body;
  }

  function orgClients(org) {
    const base = `/api/v1/organizations/${encodeURIComponent(org.id)}/clients`;
    const onceSlot = h('div');
    const list = paged('M2M clients', async (pageToken) => {
      const r = await api('GET', `${base}${query({ page_size: PAGE_SIZE, page_token: pageToken })}`);
      return { rows: r.clients || [], next: r.next_page_token, total: r.total_size };
    }, (rows) => rows.length
      ? h('ul.clients', {}, rows.map((c) => h('li', {}, clientCard(c))))
      : h('p.muted', { text: 'No M2M clients yet.' }));

    function clientCard(c) {
      const path = `${base}/${encodeURIComponent(c.client_id)}`;
      const secretSlot = h('div');
      const secrets = table(`Secrets of ${c.name}`, [
        ['Secret ID', (s) => h('code', { text: s.id })],
        ['Ends with', (s) => `…${s.secret_suffix}`],
        ['Status', (s) => s.status],
        ['Created', (s) => when(s.create_time)],
        ['Last used', (s) => when(s.last_used_time)],
        ['Actions', (s) => h('button.danger', {
          type: 'button',
          text: 'Remove',
          'aria-label': `Remove secret ${s.id}`,
          onclick: async () => {
            if (!await confirmDialog('Remove secret?', `Remove ${s.id}? Token requests with it are refused from now on.`, 'Remove')) return;
            try {
              await api('DELETE', `${path}/secrets/${encodeURIComponent(s.id)}`);
              toast('Secret removed');
              list.refresh();
            } catch (err) {
              toast(err.message);
            }
          },
        })],
      ], c.secrets || [], 'No secrets: add one to fetch tokens.');
      const addSecret = h('button', {
        type: 'button',
        text: 'Add secret',
        'aria-label': `Add a secret to ${c.name}`,
        onclick: async () => {
          try {
            const r = await api('POST', `${path}/secrets`);
            secretSlot.replaceChildren(shownOnce('client secret', r.plain_secret));
            secretSlot.querySelector('input').focus();
          } catch (err) {
            toast(err.message);
          }
        },
      });
      const edit = form(`Edit ${c.name}`, clientFields(c), 'Save client', async (values) => {
        await api('PATCH', path, clientBody(values));
        toast('Client saved');
        list.refresh();
      });
      const remove = h('button.danger', {
        type: 'button',
        text: 'Delete client',
        'aria-label': `Delete client ${c.name}`,
        onclick: async () => {
          if (!await confirmDialog('Delete M2M client?', `Delete ${c.name} (${c.client_id})? Its secrets stop working at once.`, 'Delete')) return;
          try {
            await api('DELETE', path);
            toast('Client deleted');
            list.reload();
          } catch (err) {
            toast(err.message);
          }
        },
      });
      return h('details.client', {},
        h('summary', {}, h('strong', { text: c.name }), ' ', h('code', { text: c.client_id }),
          h('span.muted', { text: ` · scopes: ${(c.scopes || []).join(' ') || 'none'} · ${c.expiry} s tokens` })),
        h('h4', { text: 'Secrets' }), secretSlot, secrets, h('div.actions', {}, addSecret),
        h('h4', { text: 'Settings' }), edit,
        h('div.danger-zone', {}, remove));
    }

    const create = form('Create M2M client', clientFields(), 'Create client', async (values, f) => {
      const r = await api('POST', base, clientBody(values));
      f.reset();
      onceSlot.replaceChildren(h('p', {}, 'Client ID: ', h('code.client-id', { text: r.client.client_id })),
        shownOnce('client secret', r.plain_secret));
      onceSlot.querySelector('input').focus();
      list.reload();
    });
    list.reload();
    return section('M2M clients', onceSlot, list.el, h('h3', { text: 'Create an M2M client' }), create);
  }

  function signingKeys() {
    const listBox = h('div');
    async function load() {
      try {
        const r = await api('GET', '/api/v1/environment/signing-keys');
        listBox.replaceChildren(table('Signing keys', [
          ['Key ID (kid)', (k) => h('code', { text: k.kid })],
          ['State', (k) => h(`span.badge.${k.state}`, { text: k.state })],
          ['Algorithm', (k) => k.algorithm],
          ['Encrypted at rest', (k) => (k.encrypted ? 'yes' : 'no')],
          ['Created', (k) => when(k.created_at)],
          ['Active from', (k) => when(k.activate_at)],
          ['Retired', (k) => when(k.retired_at)],
          ['Actions', (k) => ((k.state === 'published' || k.state === 'pending')
            ? h('button.danger', {
              type: 'button',
              text: 'Retire',
              'aria-label': `Retire ${k.kid}`,
              onclick: async () => {
                if (!await confirmDialog('Retire signing key?', `Retire ${k.kid}? It leaves the JWKS: tokens it signed stop validating.`, 'Retire')) return;
                try {
                  await api('POST', `/api/v1/environment/signing-keys/${encodeURIComponent(k.kid)}:retire`);
                  toast(`${k.kid} retired`);
                  load();
                } catch (err) {
                  toast(err.message);
                }
              },
            })
            : '—')],
        ], (r.signing_keys || []).slice().reverse(), 'No signing keys yet: one is created on first use.'));
      } catch (err) {
        listBox.replaceChildren(h('p.form-error', { role: 'alert', text: err.message }));
      }
    }
    const rotate = form('Rotate signing key', [
      field('Activate after (seconds, optional)', 'activate_after', {
        type: 'number', min: 0, hint: 'Default: the server\'s activation delay. The new key is published first, then signs.',
      }),
      h('div.field.check', {}, h('input', { id: 'rotate-now', type: 'checkbox', name: 'now', value: 'true' }),
        h('label', { for: 'rotate-now', text: 'Sign with the new key at once (emergencies: a compromised key)' })),
    ], 'Rotate signing key', async (values) => {
      const body = {};
      if (values.now) body.now = true;
      else if (String(values.activate_after || '').trim()) body.activate_after = Number(values.activate_after);
      const r = await api('POST', '/api/v1/environment/signing-keys:rotate', body);
      toast(`Rotated: ${r.signing_key.kid} is ${r.signing_key.state}`);
      load();
    });
    main().append(heading('Signing keys', 'The keys that sign access tokens, newest first.'),
      section('Keys', listBox), section('Rotate', rotate));
    load();
  }

  function credentials() {
    const listBox = h('div');
    const onceSlot = h('div');
    async function load() {
      try {
        const r = await api('GET', '/api/v1/environment/credentials');
        listBox.replaceChildren(table('Environment credentials', [
          ['Client ID', (c) => h('code', { text: c.client_id })],
          ['Ends with', (c) => `…${c.secret_suffix}`],
          ['State', (c) => h(`span.badge.${c.live ? 'active' : 'retired'}`, { text: c.live ? 'live' : 'revoked' })],
          ['Created', (c) => when(c.create_time)],
          ['Last used', (c) => when(c.last_used_time)],
          ['Revoked', (c) => when(c.revoke_time)],
          ['Actions', (c) => (c.live
            ? h('button.danger', {
              type: 'button',
              text: 'Revoke',
              'aria-label': `Revoke ${c.client_id}`,
              onclick: async () => {
                const self = c.client_id === session.client_id ? ' This is the credential you signed in with: you will be signed out.' : '';
                if (!await confirmDialog('Revoke credential?', `Revoke ${c.client_id}? Its tokens and console sessions are refused at once.${self}`, 'Revoke')) return;
                try {
                  await api('POST', `/api/v1/environment/credentials/${encodeURIComponent(c.client_id)}:revoke`);
                  toast(`${c.client_id} revoked`);
                  load();
                } catch (err) {
                  toast(err.message);
                }
              },
            })
            : '—')],
        ], r.credentials || [], 'No environment credentials.'));
      } catch (err) {
        listBox.replaceChildren(h('p.form-error', { role: 'alert', text: err.message }));
      }
    }
    const create = h('button.primary', {
      type: 'button',
      text: 'Create credential',
      onclick: async () => {
        try {
          const r = await api('POST', '/api/v1/environment/credentials');
          onceSlot.replaceChildren(h('p', {}, 'Client ID: ', h('code', { text: r.credential.client_id })),
            shownOnce('environment client secret', r.plain_secret));
          onceSlot.querySelector('input').focus();
          load();
        } catch (err) {
          toast(err.message);
        }
      },
    });
    main().append(heading('Environment credentials', 'The skc_ clients of the management API and this console.'),
      section('Credentials', onceSlot, listBox, h('div.actions', {}, create)));
    load();
  }

  // Audit log: every management action and refused management sign-in, oldest first, filtered.
  function auditLog() {
    let filters = {};
    const list = paged('Audit events', async (pageToken) => {
      const r = await api('GET', `/api/v1/audit-events${query({ ...filters, page_size: PAGE_SIZE, page_token: pageToken })}`);
      return { rows: r.events || [], next: r.next_page_token, total: r.total_size };
    }, (rows) => table('Audit events', [
      ['Time', (e) => when(e.time)],
      ['Actor', (e) => h('code', { text: e.actor })],
      ['Action', (e) => e.action],
      ['Organization', (e) => (e.organization_id ? h('code', { text: e.organization_id }) : '—')],
      ['Targets', (e) => ((e.target_ids || []).length ? h('code', { text: e.target_ids.join(' ') }) : '—')],
      ['Source', (e) => e.source_address || '—'],
      ['Outcome', (e) => h(`span.badge.${e.outcome === 'success' ? 'active' : 'retired'}`,
        { text: e.error_code ? `${e.outcome}: ${e.error_code}` : e.outcome })],
    ], rows, 'No events match.'));
    const filter = form('Filter audit events', [
      field('Organization ID', 'organization_id'),
      field('Actor', 'actor', { hint: 'e.g. an skc_ client id, cli:<user>, embedded' }),
      field('Action', 'action', { hint: 'e.g. api_key.revoke, organization.create, admin.authenticate' }),
    ], 'Filter', async (values) => {
      filters = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v.trim()]).filter(([, v]) => v));
      await list.reload();
    });
    main().append(heading('Audit log', 'Who did what: every management action and refused management sign-in, oldest first.'),
      section('Filter', filter), section('Events', list.el));
    list.reload();
  }

  // --- start ---------------------------------------------------------------------------------

  document.addEventListener('DOMContentLoaded', async () => {
    document.getElementById('sign-out').addEventListener('click', signOut);
    window.addEventListener('hashchange', route);
    try {
      session = await api('GET', '/console/api/session');
      signedIn();
    } catch {
      signedOut();
    }
  });
})();
