// `make test-dist`: the installed `authgate` package through CommonJS `require` (the Node suite's
// Express tests use `import`): API-key and scope middleware on a real Express app in front of the
// real `authgate serve`. Runs from a fresh npm project, next to the suite's test/helpers.mjs.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')

const { ScalekitClient } = require('authgate')
const { setup, authenticateToken, requireScope } = require('authgate/express')
const express = require('express')

let helpers
let server
let http
let sk
let orgId

before(async () => {
  helpers = await import(path.join(__dirname, 'helpers.mjs'))
  server = await helpers.startServer()
  sk = new ScalekitClient(server.url, server.clientId, server.clientSecret)
  setup(sk)
  orgId = (await sk.organization.createOrganization('Require Co')).organization.id
  const app = express()
  app.get('/api/resources', authenticateToken, (req, res) => res.json({ organizationId: req.tokenInfo.organizationId }))
  app.post('/deploy', requireScope('deployments:write'), (req, res) => res.json({ client: req.tokenClaims.sub }))
  http = await helpers.listen(app)
})

after(async () => {
  if (http) await http.close()
  if (server) await server.stop()
})

async function call(url, method, token) {
  const res = await fetch(url, { method, headers: token ? { authorization: `Bearer ${token}` } : {} })
  return { status: res.status, body: await res.json() }
}

test('require("authgate/express"): API key missing → 401, valid → 200, revoked → 401', async () => {
  assert.equal((await call(`${http.url}/api/resources`, 'GET')).status, 401)
  const key = await sk.token.createToken(orgId, { description: 'require test' })
  const ok = await call(`${http.url}/api/resources`, 'GET', key.token)
  assert.equal(ok.status, 200)
  assert.deepEqual(ok.body, { organizationId: orgId })
  await sk.token.invalidateToken(key.tokenId)
  assert.equal((await call(`${http.url}/api/resources`, 'GET', key.token)).status, 401)
})

test('require("authgate/express"): requireScope with a client-credentials JWT → 200, without the scope → 403', async () => {
  const client = await sk.m2m.createOrganizationClient(orgId, { name: 'ci', scopes: ['deployments:write', 'reports:read'] })
  const token = async (scope) => {
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: client.client.clientId,
      client_secret: client.plainSecret,
      scope,
    })
    const res = await fetch(`${server.url}/oauth/token`, { method: 'POST', body })
    assert.equal(res.status, 200, await res.clone().text())
    return (await res.json()).access_token
  }
  const ok = await call(`${http.url}/deploy`, 'POST', await token('deployments:write'))
  assert.equal(ok.status, 200)
  assert.equal(ok.body.client, client.client.clientId)
  assert.equal((await call(`${http.url}/deploy`, 'POST', await token('reports:read'))).status, 403)
})
