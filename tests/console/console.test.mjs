// The admin console in a real browser: Debian's chromium driven by playwright-core, against the
// real `authgate serve` (free loopback port, temporary SQLite file). Screenshots of the main
// pages at 1280 and 390 px are written to target/console-screenshots/ (SCREENSHOT_DIR overrides).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
const repo = resolve(here, '..', '..')
const triple = process.env.CARGO_BUILD_TARGET || 'x86_64-unknown-linux-gnu'
const binary = process.env.AUTHGATE_BIN || join(repo, 'target', triple, 'debug', 'authgate')
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium'
const shots = process.env.SCREENSHOT_DIR || join(repo, 'target', 'console-screenshots')
const WIDTHS = [1280, 390]

let server
let context
let page
const dialogs = []
const cleanups = []

/** Starts `authgate serve` and resolves {url, clientId, clientSecret, stop}. */
async function startServer(extraArgs = []) {
  const dir = mkdtempSync(join(tmpdir(), 'authgate-console-'))
  const clientId = `skc_${randomBytes(8).toString('hex')}`
  const clientSecret = randomBytes(24).toString('hex')
  const env = { ...process.env }
  for (const k of ['AUTHGATE_LISTEN', 'AUTHGATE_ISSUER', 'RUST_LOG', 'AUTHGATE_NO_CONSOLE']) delete env[k]
  Object.assign(env, {
    AUTHGATE_DATABASE_URL: `sqlite://${join(dir, 'authgate.db')}`,
    AUTHGATE_CLIENT_ID: clientId,
    AUTHGATE_CLIENT_SECRET: clientSecret,
  })
  const child = spawn(binary, ['serve', '--listen', '127.0.0.1:0', ...extraArgs], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d })
  const url = await new Promise((resolveUrl, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${stderr}`)), 60_000)
    child.stdout.on('data', (d) => {
      out += d
      const m = out.match(/authgate listening on (\S+)/)
      if (m) {
        clearTimeout(timer)
        resolveUrl(m[1])
      }
    })
    child.on('exit', (code) => reject(new Error(`server exited (${code}):\n${stderr}`)))
  })
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
  return { url, clientId, clientSecret, stop, stderr: () => stderr }
}

async function adminToken() {
  const r = await fetch(`${server.url}/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: server.clientId, client_secret: server.clientSecret }),
  })
  assert.equal(r.status, 200)
  return (await r.json()).access_token
}

async function rest(method, path, body, token) {
  const headers = { Authorization: `Bearer ${token || await adminToken()}` }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const r = await fetch(`${server.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await r.text()
  return { status: r.status, body: text ? JSON.parse(text) : {} }
}

function jwtHeader(token) {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString())
}

async function clientToken(clientId, clientSecret) {
  const r = await fetch(`${server.url}/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }),
  })
  return { status: r.status, body: await r.json() }
}

/** Screenshots of the current page at every width, named `name-<width>.png`. */
async function screenshot(name) {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: width > 600 ? 900 : 844 })
    await page.waitForTimeout(100)
    await page.screenshot({ path: join(shots, `${name}-${width}.png`), fullPage: true })
    // Nothing may overflow the viewport sideways (tables scroll inside their own box).
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    assert.ok(overflow <= 1, `${name} at ${width} px overflows by ${overflow} px`)
  }
  await page.setViewportSize({ width: 1280, height: 900 })
}

/** Every interactive control in the page has an accessible name. */
async function assertAccessibleNames(where) {
  const unnamed = await page.evaluate(() => {
    const out = []
    for (const el of document.querySelectorAll('button, input, select, textarea, a[href], summary')) {
      if (el.closest('[hidden]') || el.type === 'hidden') continue
      const labelled = (el.labels && el.labels.length > 0) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
      const text = (el.textContent || '').trim()
      if (!labelled && !text) out.push(el.outerHTML.slice(0, 120))
    }
    return out
  })
  assert.deepEqual(unnamed, [], `controls without an accessible name on ${where}`)
}

const main = () => page.locator('main')
const nav = (name) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true })

before(async () => {
  assert.ok(existsSync(binary), `authgate binary not found at ${binary}; run cargo build -p authgate-server`)
  assert.ok(existsSync(chromiumPath), `${chromiumPath} not found; apt-get install chromium`)
  mkdirSync(shots, { recursive: true })
  server = await startServer()
  const profile = mkdtempSync(join(tmpdir(), 'authgate-chromium-'))
  cleanups.push(() => rmSync(profile, { recursive: true, force: true }))
  // A fresh profile (--user-data-dir) per run: playwright passes it for a persistent context.
  context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url })
  page = await context.newPage()
  page.on('dialog', async (dialog) => {
    dialogs.push(dialog.message())
    await dialog.dismiss()
  })
})

after(async () => {
  if (context) await context.close()
  if (server) await server.stop()
  for (const c of cleanups) c()
})

test('the console: sign-in, organizations, API keys, M2M clients, signing keys, sign-out, hostile input', async (t) => {
  const consoleUrl = `${server.url}/console`
  let keyId
  let apiKey
  let sessionCookie
  let m2m = {}

  await t.test('the page is served with a strict CSP and no framing', async () => {
    const response = await page.goto(consoleUrl)
    assert.equal(response.status(), 200)
    const h = response.headers()
    assert.match(h['content-security-policy'], /script-src 'self'/)
    assert.doesNotMatch(h['content-security-policy'], /unsafe-inline/)
    assert.match(h['content-security-policy'], /frame-ancestors 'none'/)
    assert.equal(h['x-frame-options'], 'DENY')
    await page.getByRole('heading', { name: 'Sign in to authgate' }).waitFor()
    await screenshot('sign-in')
  })

  await t.test('a wrong secret is refused next to the form; the keyboard alone signs in', async () => {
    await page.getByLabel('Client ID').fill(server.clientId)
    await page.getByLabel('Client secret').fill('wrong-secret-wrong-secret')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('alert').filter({ hasText: 'sign-in failed' }).waitFor()
    // Keyboard only: focus the id field, type, Tab to the secret, Enter.
    await page.getByLabel('Client ID').focus()
    await page.keyboard.press('Control+A')
    await page.keyboard.type(server.clientId)
    await page.keyboard.press('Tab')
    await page.keyboard.press('Control+A')
    await page.keyboard.type(server.clientSecret)
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor()
    const cookies = await context.cookies(server.url)
    const cookie = cookies.find((c) => c.name === 'authgate_console')
    assert.ok(cookie, 'session cookie set')
    assert.equal(cookie.httpOnly, true)
    assert.equal(cookie.sameSite, 'Strict')
    sessionCookie = `${cookie.name}=${cookie.value}`
    assert.equal(await page.evaluate(() => document.cookie.includes('authgate_console')), false, 'not readable by script')
  })

  await t.test(`the dashboard charts the server's own counters`, async () => {
    // Some traffic to chart: a grant and a failed grant.
    await adminToken()
    await clientToken(server.clientId, 'nope-nope-nope-nope')
    // The dashboard samples the counters on a timer: wait for a second sample (a loaded
    // machine delays the timer), rather than for a fixed time.
    await page.waitForFunction(() => {
      const points = document.querySelector('svg.chart polyline.grants')?.getAttribute('points')
      return Boolean(points) && points.trim().split(/\s+/).length >= 2
    }, null, { timeout: 30_000 })
    const points = await page.locator('svg.chart polyline.grants').getAttribute('points')
    assert.ok(points && points.trim().split(/\s+/).length >= 2, `chart has points: ${points}`)
    await main().getByText('Tokens issued').waitFor()
    await main().getByText("API-key validations (over the key's rate limit)").waitFor()
    await assertAccessibleNames('dashboard')
    await screenshot('dashboard')
  })

  await t.test('create an organization; a hostile name renders as text', async () => {
    await nav('Organizations').click()
    await page.getByRole('heading', { name: 'Organizations' }).waitFor()
    // An error from the API shows next to its field.
    await page.getByLabel('Display name').fill('x'.repeat(300))
    await page.getByRole('button', { name: 'Create organization' }).click()
    const nameError = page.locator('[data-error-for="display_name"]')
    await nameError.filter({ hasText: /./ }).waitFor()
    assert.equal(await page.getByLabel('Display name').getAttribute('aria-invalid'), 'true')

    await page.getByLabel('Display name').fill('Acme Corp')
    await page.getByLabel('External ID (optional)').fill('acme-1')
    await page.getByRole('button', { name: 'Create organization' }).click()
    await main().getByRole('link', { name: 'Acme Corp' }).waitFor()

    const hostile = '<img src=x onerror=alert(1)>'
    await page.getByLabel('Display name').fill(hostile)
    await page.getByLabel('External ID (optional)').fill('')
    await page.getByRole('button', { name: 'Create organization' }).click()
    await main().getByRole('link', { name: hostile }).waitFor()
    assert.equal(await page.locator('main img').count(), 0, 'no element was created from the name')
    await main().getByRole('link', { name: hostile }).click()
    await page.getByRole('heading', { name: hostile }).waitFor()
    await page.waitForTimeout(300)
    assert.deepEqual(dialogs, [], 'no dialog fired')
    assert.equal(await page.locator('main img').count(), 0)

    // Paging and search.
    await nav('Organizations').click()
    await page.getByText(/Page 1 of 1 · 2 in all/).waitFor()
    await page.getByLabel('Find by ID or external ID').fill('acme-1')
    await page.getByRole('button', { name: 'Search' }).click()
    await page.getByText(/1 in all/).waitFor()
    assert.equal(await main().getByRole('link', { name: hostile }).count(), 0)
    await assertAccessibleNames('organizations')
    await screenshot('organizations')
    await page.getByRole('button', { name: 'Show all' }).click()
    await page.getByText(/Page 1 of 1 · 2 in all/).waitFor()
  })

  await t.test('a user-scoped API key: shown once, validates over REST, revoked in the console', async () => {
    await main().getByRole('link', { name: 'Acme Corp' }).click()
    await page.getByRole('heading', { name: 'Acme Corp' }).waitFor()
    await page.getByLabel('Email').fill('dev@acme.test')
    await page.getByRole('button', { name: 'Add user' }).click()
    await main().getByRole('cell', { name: 'dev@acme.test' }).waitFor()
    const userId = (await main().getByRole('region', { name: 'Users' }).locator('td[data-label="ID"] code').first().textContent()).trim()
    assert.match(userId, /^usr_/)

    const keyForm = page.getByRole('form', { name: 'Create API key' })
    await keyForm.getByLabel('User (optional)').selectOption(userId)
    await keyForm.getByLabel('Description (optional)').fill('CI deploy key')
    await keyForm.getByLabel('Custom claims (optional)').fill('env=prod\nteam=platform')
    await keyForm.getByRole('button', { name: 'Create API key' }).click()
    const once = page.getByRole('alert', { name: 'New API key' })
    await once.waitFor()
    await once.getByText('You will not see this again').waitFor()
    apiKey = await once.getByRole('textbox', { name: 'API key' }).inputValue()
    assert.match(apiKey, /^agk_/)
    await once.getByRole('button', { name: 'Copy API key' }).click()
    await page.getByText('API key copied').waitFor()
    const copied = await page.evaluate(() => navigator.clipboard.readText().catch(() => null))
    if (copied !== null) assert.equal(copied, apiKey)

    const valid = await rest('POST', '/api/v1/tokens:validate', { token: apiKey })
    assert.equal(valid.status, 200)
    assert.equal(valid.body.token_info.user_id, userId)
    assert.equal(valid.body.token_info.custom_claims.team, 'platform')
    keyId = valid.body.token_info.token_id

    // Update the description and claims from the console.
    await main().getByRole('button', { name: `Edit ${keyId}` }).click()
    const edit = page.getByRole('form', { name: `Edit ${keyId}` })
    await edit.getByLabel('Description').fill('CI deploy key (rotated monthly)')
    await edit.getByLabel('Custom claims').fill('env=staging')
    await edit.getByRole('button', { name: 'Save' }).click()
    await main().getByRole('cell', { name: 'CI deploy key (rotated monthly)' }).waitFor()
    const updated = await rest('POST', '/api/v1/tokens:validate', { token: apiKey })
    assert.deepEqual(updated.body.token_info.custom_claims, { env: 'staging' })

    await assertAccessibleNames('organization')
    await screenshot('organization')

    await main().getByRole('button', { name: `Revoke ${keyId}` }).click()
    const confirm = page.getByRole('dialog', { name: 'Revoke API key?' })
    await confirm.waitFor()
    await confirm.getByRole('button', { name: 'Revoke' }).click()
    await page.getByText(`${keyId} revoked`).waitFor()
    const refused = await rest('POST', '/api/v1/tokens:validate', { token: apiKey })
    assert.equal(refused.status, 401)
  })

  await t.test('rotate an API key: the new key is shown once, both validate during the grace period', async () => {
    const keyForm = page.getByRole('form', { name: 'Create API key' })
    await keyForm.getByLabel('Description (optional)').fill('rotating key')
    await keyForm.getByRole('button', { name: 'Create API key' }).click()
    const once = page.getByRole('alert', { name: 'New API key' })
    await once.waitFor()
    const oldKey = await once.getByRole('textbox', { name: 'API key' }).inputValue()
    const oldId = (await rest('POST', '/api/v1/tokens:validate', { token: oldKey })).body.token_info.token_id
    await main().getByRole('cell', { name: 'rotating key' }).waitFor()

    await main().getByRole('button', { name: `Rotate ${oldId}` }).click()
    const rotate = page.getByRole('form', { name: `Rotate ${oldId}` })
    await rotate.getByLabel('Grace period (seconds)').fill('3600')
    await rotate.getByRole('button', { name: 'Rotate' }).click()
    const fresh = page.getByRole('alert', { name: 'New rotated API key' })
    await fresh.waitFor()
    const newKey = await fresh.getByRole('textbox', { name: 'rotated API key' }).inputValue()
    assert.match(newKey, /^agk_/)
    assert.notEqual(newKey, oldKey)
    const oldInfo = await rest('POST', '/api/v1/tokens:validate', { token: oldKey })
    const newInfo = await rest('POST', '/api/v1/tokens:validate', { token: newKey })
    assert.equal(oldInfo.status, 200, 'the old key validates during its grace period')
    assert.equal(newInfo.status, 200)
    assert.equal(oldInfo.body.token_info.rotated_to, newInfo.body.token_info.token_id)
    assert.equal(newInfo.body.token_info.rotated_from, oldId)
  })

  await t.test('an M2M client: secret shown once, a token fetched with it', async () => {
    const create = page.getByRole('form', { name: 'Create M2M client' })
    await create.getByLabel('Name').fill('billing-worker')
    await create.getByLabel('Scopes (optional)').fill('invoices:read invoices:write')
    await create.getByLabel('Audience (optional)').fill('https://api.acme.test')
    await create.getByLabel('Custom claims (optional)').fill('tier=gold')
    await create.getByLabel('Token lifetime in seconds (optional)').fill('900')
    await create.getByRole('button', { name: 'Create client' }).click()
    const once = page.getByRole('alert', { name: 'New client secret' })
    await once.waitFor()
    const secret = await once.getByRole('textbox', { name: 'client secret' }).inputValue()
    const clientId = (await main().locator('code.client-id').textContent()).trim()
    assert.match(clientId, /^m2morg_/)
    const token = await clientToken(clientId, secret)
    assert.equal(token.status, 200)
    assert.equal(token.body.expires_in, 900)
    assert.equal(token.body.scope, 'invoices:read invoices:write')
    m2m = { clientId, secret, kidBefore: jwtHeader(token.body.access_token).kid }
  })

  await t.test('rotate a signing key: new tokens carry the new kid', async () => {
    await nav('Signing keys').click()
    await page.getByRole('heading', { name: 'Signing keys' }).waitFor()
    await page.getByLabel(/Sign with the new key at once/).check()
    await page.getByRole('button', { name: 'Rotate signing key' }).click()
    await page.getByText(/Rotated: snk_\S+ is active/).waitFor()
    await main().getByRole('cell', { name: 'published' }).waitFor()
    const listed = await rest('GET', '/api/v1/environment/signing-keys')
    const active = listed.body.signing_keys.find((k) => k.state === 'active')
    assert.notEqual(active.kid, m2m.kidBefore)
    const token = await clientToken(m2m.clientId, m2m.secret)
    assert.equal(jwtHeader(token.body.access_token).kid, active.kid)
    await assertAccessibleNames('signing keys')
    await screenshot('signing-keys')

    await nav('Environment credentials').click()
    await main().getByRole('cell', { name: server.clientId, exact: true }).waitFor()
    await assertAccessibleNames('environment credentials')
    await screenshot('credentials')
  })

  await t.test('the audit log lists what the console did', async () => {
    await nav('Audit log').click()
    await page.getByRole('heading', { name: 'Audit log' }).waitFor()
    const filter = page.getByRole('form', { name: 'Filter audit events' })
    await filter.getByLabel('Action').fill('api_key.revoke')
    await filter.getByRole('button', { name: 'Filter' }).click()
    // The unfiltered list is on the page until the filtered one replaces it: wait for the latter.
    await page.waitForFunction(() => {
      const cells = [...document.querySelectorAll('main [aria-label="Audit events"] td[data-label="Action"]')]
      return cells.length > 0 && cells.every((c) => c.textContent === 'api_key.revoke')
    })
    const events = main().getByRole('region', { name: 'Audit events' })
    // One key was revoked in the console: one event, naming it, by the signed-in credential.
    assert.equal(await events.locator('td[data-label="Action"]').count(), 1)
    assert.equal(await events.locator('td[data-label="Targets"]', { hasText: keyId }).count(), 1)
    assert.equal(await events.locator('td[data-label="Actor"]', { hasText: server.clientId }).count(), 1)
    await assertAccessibleNames('audit log')
    await screenshot('audit')
  })

  await t.test('requests without the CSRF token, or from another origin, are refused and change nothing', async () => {
    const before = (await rest('GET', '/api/v1/organizations?page_size=100')).body.total_size
    // From the console's own page, without the header.
    const status = await page.evaluate(async () => {
      const r = await fetch('/api/v1/organizations', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ display_name: 'no-csrf' }),
      })
      return r.status
    })
    assert.equal(status, 403)
    // Outside the browser, with the session cookie but no token.
    const raw = await fetch(`${server.url}/api/v1/organizations`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', Cookie: sessionCookie }, body: JSON.stringify({ display_name: 'no-csrf-2' }),
    })
    assert.equal(raw.status, 403)
    assert.equal((await raw.json()).details[0].error_code, 'permission_denied')

    // A page on another origin (another port) posts a form to a console action.
    const attacker = http.createServer((req, res) => {
      res.setHeader('Content-Type', 'text/html')
      res.end(`<!doctype html><form id=f method=POST enctype=text/plain action="${server.url}/api/v1/organizations">
        <input name='{"display_name":"pwned","x":"' value='"}'></form><script>document.getElementById('f').submit()</script>`)
    })
    await new Promise((r) => attacker.listen(0, '127.0.0.1', r))
    cleanups.push(() => attacker.close())
    const attackerUrl = `http://127.0.0.1:${attacker.address().port}/`
    const posted = page.waitForResponse((r) => r.url().endsWith('/api/v1/organizations') && r.request().method() === 'POST')
    await page.goto(attackerUrl)
    assert.equal((await posted).status(), 403)
    // A cross-origin form post to sign-in is refused as well.
    const signInPost = await fetch(`${server.url}/console/api/session`, {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: attackerUrl.slice(0, -1) }, body: 'client_id=a&client_secret=b',
    })
    assert.equal(signInPost.status, 403)
    const after = (await rest('GET', '/api/v1/organizations?page_size=100')).body
    assert.equal(after.total_size, before)
    assert.ok(!after.organizations.some((o) => /csrf|pwned/.test(o.display_name)))
  })

  await t.test('sign out: the session is refused afterwards', async () => {
    await page.goto(`${consoleUrl}#/organizations`)
    await page.getByRole('heading', { name: 'Organizations' }).waitFor()
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('heading', { name: 'Sign in to authgate' }).waitFor()
    const status = await page.evaluate(async () => (await fetch('/api/v1/organizations')).status)
    assert.equal(status, 401)
    const raw = await fetch(`${server.url}/api/v1/organizations`, { headers: { Cookie: sessionCookie } })
    assert.equal(raw.status, 401)
    assert.deepEqual(dialogs, [], 'no dialog fired during the run')
  })
})
