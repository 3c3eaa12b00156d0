// The seed's Node flows end to end on real Express servers (4 and 5) listening on loopback, with
// the real `authgate serve` behind them: API-key middleware, requireScope with tokens from
// /oauth/token, 200/401/403/503 paths, revocation → 401, faults → next(err).
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'

import { ScalekitClient, JwtValidator, ScalekitBadRequestException } from 'authgate'
import { setup, authenticateToken, requireScope, requireOrganizationToken, bearerToken } from 'authgate/express'
import { startServer, listen, require, freshDayWindow, DAY } from './helpers.mjs'

const versions = [
  ['Express 5', require('express')],
  ['Express 4', require('express4')],
]

async function oauthToken(envUrl, clientId, clientSecret, scope) {
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret })
  if (scope) body.set('scope', scope)
  const res = await fetch(`${envUrl}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  })
  assert.equal(res.status, 200, await res.clone().text())
  const json = await res.json()
  assert.equal(json.token_type, 'Bearer')
  return json.access_token
}

async function get(url, token, method = 'GET') {
  const headers = token === undefined ? {} : { authorization: token.startsWith('raw:') ? token.slice(4) : `Bearer ${token}` }
  const res = await fetch(url, { method, headers })
  const text = await res.text()
  let body
  try {
    body = JSON.parse(text)
  } catch {
    body = text
  }
  return { status: res.status, body, challenge: res.headers.get('www-authenticate'), headers: res.headers }
}

describe('authgate/express', () => {
  let server
  let sk
  let orgId
  let userId
  let m2m

  before(async () => {
    server = await startServer()
    sk = new ScalekitClient(server.url, server.clientId, server.clientSecret)
    setup(sk)
    orgId = (await sk.organization.createOrganization('Express Co')).organization.id
    userId = (await sk.user.createUserAndMembership(orgId, { email: `dev-${Date.now()}@example.com` })).user.id
    m2m = await sk.m2m.createOrganizationClient(orgId, {
      name: 'deployer',
      scopes: ['deployments:read', 'deployments:write', 'reports:read'],
    })
  })

  after(async () => {
    await server.stop()
  })

  test('bearerToken parsing', () => {
    assert.equal(bearerToken({ headers: {} }), null)
    assert.equal(bearerToken({ headers: { authorization: 'Basic abc' } }), null)
    assert.equal(bearerToken({ headers: { authorization: 'Bearer abc' } }), 'abc')
    assert.equal(bearerToken({ headers: { authorization: 'bearer   abc ' } }), 'abc')
    // The core's rule (tests/vectors/middleware.json): no token, or a malformed one, is null.
    assert.equal(bearerToken({ headers: { authorization: 'Bearer ' } }), null)
    assert.equal(bearerToken({ headers: { authorization: 'Bearer a b' } }), null)
  })

  for (const [name, express] of versions) {
    describe(name, () => {
      let http

      before(async () => {
        const app = express()
        // The seed's API-key route: org (and user) context from req.tokenInfo.
        app.get('/api/resources', authenticateToken, (req, res) => {
          const { organizationId, userId } = req.tokenInfo
          res.json({ organizationId, userId: userId || null })
        })
        app.get('/api/explicit', authenticateToken(sk), (req, res) => res.json({ org: req.tokenInfo.organizationId }))
        // The seed's JWT routes.
        app.post('/deploy', requireScope('deployments:write'), (req, res) => {
          res.json({ client: req.tokenClaims.sub, org: req.tokenClaims.oid })
        })
        app.get('/reports', requireScope(['reports:read', 'admin'], { any: true, client: sk }), (req, res) => {
          res.json({ scopes: req.tokenClaims.scopes })
        })
        app.get('/admin', requireScope(['reports:read', 'admin'], { client: sk }), (req, res) => res.json({ ok: true }))
        app.get('/status', requireOrganizationToken(), (req, res) => res.json({ org: req.tokenClaims.oid }))
        app.get('/realm', requireScope('deployments:write', { client: sk, realm: 'orders' }), (req, res) => res.json({ ok: true }))
        app.get('/down', requireScope('x', { validator: new JwtValidator({ jwksUrl: 'http://127.0.0.1:9/keys', jwksFetchTimeout: 1 }) }), (req, res) =>
          res.json({ ok: true }),
        )
        const broken = new ScalekitClient(server.url, server.clientId, server.clientSecret)
        broken.token.validateToken = async () => {
          throw new Error('database on fire')
        }
        app.get('/fault', authenticateToken({ client: broken }), (req, res) => res.json({ ok: true }))
        // eslint-disable-next-line no-unused-vars
        app.use((err, req, res, next) => res.status(500).json({ fault: err.message }))
        http = await listen(app)
      })

      after(async () => {
        await http.close()
      })

      test('API key: missing → 401, invalid → 401, valid → 200 with context, revoked → 401', async () => {
        let r = await get(`${http.url}/api/resources`)
        assert.equal(r.status, 401)
        assert.deepEqual(r.body, { error: 'Missing authorization token' })
        assert.equal(r.challenge, 'Bearer realm="api"')

        r = await get(`${http.url}/api/resources`, 'agk_not_a_real_key')
        assert.equal(r.status, 401)
        assert.deepEqual(r.body, { error: 'Invalid or expired token' })
        assert.match(r.challenge, /^Bearer realm="api", error="invalid_token"/)

        const orgKey = await sk.token.createToken(orgId, { description: 'CI/CD pipeline token' })
        r = await get(`${http.url}/api/resources`, orgKey.token)
        assert.equal(r.status, 200)
        assert.deepEqual(r.body, { organizationId: orgId, userId: null })

        const userKey = await sk.token.createToken(orgId, { userId, customClaims: { team: 'engineering' } })
        r = await get(`${http.url}/api/resources`, userKey.token)
        assert.deepEqual(r.body, { organizationId: orgId, userId })
        r = await get(`${http.url}/api/explicit`, userKey.token)
        assert.deepEqual(r.body, { org: orgId })

        // A bare token id is not a credential.
        r = await get(`${http.url}/api/resources`, orgKey.tokenId)
        assert.equal(r.status, 401)

        await sk.token.invalidateToken(orgKey.tokenId)
        r = await get(`${http.url}/api/resources`, orgKey.token)
        assert.equal(r.status, 401)
        assert.deepEqual(r.body, { error: 'Invalid or expired token' })
        r = await get(`${http.url}/api/resources`, userKey.token)
        assert.equal(r.status, 200, 'other keys are unaffected')
      })

      test('requireScope with tokens from /oauth/token: 200, 403 insufficient_scope, 401 invalid or missing', async () => {
        const full = await oauthToken(server.url, m2m.client.clientId, m2m.plainSecret)
        let r = await get(`${http.url}/deploy`, full, 'POST')
        assert.equal(r.status, 200)
        assert.deepEqual(r.body, { client: m2m.client.clientId, org: orgId })
        // Second request: keys cached, synchronous path.
        r = await get(`${http.url}/deploy`, full, 'POST')
        assert.equal(r.status, 200)

        const readOnly = await oauthToken(server.url, m2m.client.clientId, m2m.plainSecret, 'deployments:read')
        r = await get(`${http.url}/deploy`, readOnly, 'POST')
        assert.equal(r.status, 403)
        assert.equal(r.body.error, 'Insufficient permissions')
        assert.match(r.challenge, /error="insufficient_scope"/)
        assert.match(r.challenge, /scope="deployments:write"/)

        // any-of: reports:read suffices; all-of needs admin as well.
        const reports = await oauthToken(server.url, m2m.client.clientId, m2m.plainSecret, 'reports:read')
        r = await get(`${http.url}/reports`, reports)
        assert.equal(r.status, 200)
        assert.deepEqual(r.body, { scopes: ['reports:read'] })
        r = await get(`${http.url}/admin`, reports)
        assert.equal(r.status, 403)
        assert.match(r.challenge, /scope="admin"/, "the challenge names the missing scopes")
        assert.deepEqual(r.body, { error: 'Insufficient permissions' })

        // Verify before authorise: a forged token is 401 even on a scope-guarded route.
        const [h, p] = full.split('.')
        r = await get(`${http.url}/deploy`, `${h}.${p}.${'A'.repeat(342)}`, 'POST')
        assert.equal(r.status, 401)
        assert.deepEqual(r.body, { error: 'Invalid or expired token' })
        assert.match(r.challenge, /error="invalid_token"/)

        r = await get(`${http.url}/deploy`, undefined, 'POST')
        assert.equal(r.status, 401)
        assert.deepEqual(r.body, { error: 'Missing authorization token' })
        assert.equal(r.challenge, 'Bearer realm="api"')

        // A configured realm comes first in every challenge.
        r = await get(`${http.url}/realm`)
        assert.equal(r.challenge, 'Bearer realm="orders"')
        r = await get(`${http.url}/realm`, 'not-a-jwt')
        assert.match(r.challenge, /^Bearer realm="orders", error="invalid_token", error_description="/)

        // An opaque API key is not a JWT.
        const key = await sk.token.createToken(orgId)
        r = await get(`${http.url}/deploy`, key.token, 'POST')
        assert.equal(r.status, 401)
      })

      test('requireOrganizationToken: any organization token passes, the environment admin token is 403', async () => {
        const narrow = await oauthToken(server.url, m2m.client.clientId, m2m.plainSecret, 'reports:read')
        let r = await get(`${http.url}/status`, narrow)
        assert.equal(r.status, 200)
        assert.deepEqual(r.body, { org: orgId })
        // The environment's own token: valid, signed by the same keys, but no organization's.
        const admin = await oauthToken(server.url, server.clientId, server.clientSecret)
        r = await get(`${http.url}/status`, admin)
        assert.equal(r.status, 403)
        assert.deepEqual(r.body, { error: 'Insufficient permissions' })
        assert.match(r.challenge, /error="insufficient_scope", error_description="the token may not use this resource"/)
        r = await get(`${http.url}/status`)
        assert.equal(r.status, 401)
      })

      test('keys unavailable → 503; a real fault → next(err)', async () => {
        let r = await get(`${http.url}/down`, 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJleHAiOjk5OTk5OTk5OTl9.c2ln')
        assert.equal(r.status, 503)
        assert.deepEqual(r.body, { error: 'Authentication service unavailable' })
        r = await get(`${http.url}/fault`, 'agk_anything')
        assert.equal(r.status, 500)
        assert.deepEqual(r.body, { fault: 'database on fire' })
      })
    })
  }

  for (const [name, express] of versions) {
    test(`${name}: allowedCidrs see the socket address, X-Forwarded-For only from trusted proxies, 429 over the rate limit`, async () => {
      const office = (await sk.token.createToken(orgId, { allowedCidrs: ['198.51.100.0/24'] })).token
      const local = (await sk.token.createToken(orgId, { allowedCidrs: ['127.0.0.0/8'] })).token
      await freshDayWindow()
      const limited = (await sk.token.createToken(orgId, { rateLimit: { limit: 2, windowSeconds: DAY } })).token
      const app = express()
      // Express's own `trust proxy` must not matter: the middleware reads the socket's address.
      app.set('trust proxy', true)
      const info = (req, res) => res.json({ org: req.tokenInfo.organizationId })
      app.get('/direct', authenticateToken(sk), info)
      app.get('/proxied', authenticateToken({ client: sk, trustedProxies: ['127.0.0.0/8', '::1'] }), info)
      const http = await listen(app)
      const call = (path, key, forwarded) =>
        fetch(`${http.url}${path}`, {
          headers: { authorization: `Bearer ${key}`, ...(forwarded ? { 'x-forwarded-for': forwarded } : {}) },
        })
      try {
        // From loopback with no trusted proxy: the header is ignored, loopback decides.
        assert.equal((await call('/direct', office, '198.51.100.7')).status, 401)
        let r = await call('/direct', local, '198.51.100.7')
        assert.equal(r.status, 200)
        assert.deepEqual(await r.json(), { org: orgId })
        // Loopback trusted as a proxy: the entry it appended decides.
        r = await call('/proxied', office, '198.51.100.7')
        assert.equal(r.status, 200)
        assert.equal((await call('/proxied', local, '198.51.100.7')).status, 401)
        // Entries before the nearest untrusted one are the client's own: not believed.
        assert.equal((await call('/proxied', office, '198.51.100.7, 203.0.113.5')).status, 401)
        assert.equal((await call('/proxied', local)).status, 200, 'no header: the proxy itself')

        assert.equal((await call('/direct', limited)).status, 200)
        assert.equal((await call('/direct', limited)).status, 200)
        r = await call('/direct', limited)
        assert.equal(r.status, 429)
        assert.deepEqual(await r.json(), { error: 'Rate limit exceeded' })
        const retry = Number(r.headers.get('retry-after'))
        assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 86400, `${retry}`)
        assert.equal(r.headers.get('www-authenticate'), null)
      } finally {
        await http.close()
      }
    })
  }

  test('trustedProxies are checked when the middleware is configured', () => {
    assert.throws(
      () => authenticateToken({ client: sk, trustedProxies: ['10.0.0.1/8'] }),
      (err) => err instanceof ScalekitBadRequestException && err.code === 'invalid_argument' && /10\.0\.0\.0\/8/.test(err.message),
    )
    assert.throws(() => authenticateToken({ client: sk, trustedProxies: '10.0.0.0/8' }), TypeError)
    assert.throws(() => setup(sk, { trustedProxies: ['nope'] }), ScalekitBadRequestException)
    // A failed setup() changes nothing: the configured client still answers.
    assert.equal(setup(sk, { trustedProxies: [] }), sk)
  })

  test('API key middleware answers 503 when the key service is down', async () => {
    const other = await startServer()
    const client = new ScalekitClient(other.url, other.clientId, other.clientSecret, { timeout: 2, retries: 0 })
    await other.stop()
    const express = require('express')
    const app = express()
    app.get('/x', authenticateToken(client), (req, res) => res.json({ ok: true }))
    const http = await listen(app)
    try {
      const r = await get(`${http.url}/x`, 'agk_whatever')
      assert.equal(r.status, 503)
    } finally {
      await http.close()
    }
  })
})
