// tests/vectors/middleware.json through the Express middleware, on real Express 4 and 5 servers
// listening on loopback: every request header gets the same status, body and headers as from the
// core's request policy (the Rust suite), the server, Flask and FastAPI. API keys are real (an
// embedded authority on a temporary SQLite file), JWTs are checked against the vector file's key
// set, and the "keys down" validator points at a closed loopback port. Requests come from loopback,
// as `routes.api_key` says.
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import { ScalekitClient, JwtValidator } from 'authgate'
import { authenticateToken, requireScope, requireOrganizationToken, bearerToken } from 'authgate/express'
import { listen, repoDir, require, tempDir, freshDayWindow, DAY } from './helpers.mjs'

const doc = JSON.parse(readFileSync(join(repoDir, 'tests', 'vectors', 'middleware.json'), 'utf8'))
const PATHS = { api_key: '/key', scope: '/scope', organization: '/org', keys_down: '/down' }

const versions = [
  ['Express 5', require('express')],
  ['Express 4', require('express4')],
]

describe('middleware vectors', () => {
  let tmp
  let client
  let keys
  const ok = (req, res) => res.json({ ok: true })

  before(async () => {
    tmp = tempDir()
    client = ScalekitClient.local(`sqlite://${join(tmp.dir, 'policy.db')}`, { issuer: 'https://api.example.test' })
    const { organization } = await client.organization.createOrganization('Policy vectors')
    const create = async (options) => (await client.token.createToken(organization.id, options)).token
    // The cases below must all run in the day window the limited key is used up in.
    await freshDayWindow(300_000)
    keys = {
      '{valid_key}': await create(),
      '{revoked_key}': await create(),
      '{loopback_key}': await create({ allowedCidrs: ['127.0.0.0/8', '::1/128'] }),
      '{network_key}': await create({ allowedCidrs: ['192.0.2.0/24'] }),
      '{limited_key}': await create({ rateLimit: { limit: 1, windowSeconds: DAY } }),
    }
    await client.token.invalidateToken(keys['{revoked_key}'])
    // The limited key's one validation of the day, used up before the cases run.
    await client.token.validateToken(keys['{limited_key}'], { clientIp: '127.0.0.1' })
  })
  after(() => tmp.cleanup())

  test('the file has cases for every route', () => {
    const routes = new Set(doc.cases.map((c) => c.route))
    assert.deepEqual([...routes].sort(), Object.keys(PATHS).sort())
    assert.ok(doc.cases.length >= 25)
  })

  for (const [name, express] of versions) {
    describe(name, () => {
      let http
      before(async () => {
        const jwt = doc.jwt
        const scoped = new JwtValidator({ issuer: jwt.issuer, jwks: jwt.jwks })
        const down = new JwtValidator({ issuer: jwt.issuer, jwksUrl: jwt.unreachable_jwks_url })
        const app = express()
        app.get(PATHS.api_key, authenticateToken(client), ok)
        app.get(PATHS.scope, requireScope(jwt.required_scopes, { validator: scoped }), ok)
        app.get(PATHS.organization, requireOrganizationToken({ validator: scoped }), ok)
        app.get(PATHS.keys_down, requireScope(jwt.required_scopes, { validator: down }), ok)
        app.use((err, req, res, next) => res.status(500).json({ fault: String(err && err.message) }))
        http = await listen(app)
      })
      after(() => http && http.close())

      for (const c of doc.cases) {
        test(c.name, async () => {
          const headers = {}
          if (c.authorization !== null) {
            headers.authorization = Object.entries(keys).reduce((text, [placeholder, key]) => text.replaceAll(placeholder, key), c.authorization)
          }
          const res = await fetch(`${http.url}${PATHS[c.route]}`, { headers })
          assert.equal(res.status, c.expected.status, c.description)
          assert.deepEqual(await res.json(), c.expected.body)
          for (const [header, value] of Object.entries(c.expected.headers)) {
            const got = res.headers.get(header)
            if (value === '{retry_after}') {
              // The seconds left in the key's window: any whole number from 1 to 86400.
              assert.match(got ?? '', /^[1-9][0-9]*$/, header)
              assert.ok(Number(got) <= 86400, `${header}: ${got}`)
              continue
            }
            assert.equal(got, value, header)
          }
        })
      }
    })
  }

  test('bearerToken follows the same rule', () => {
    assert.equal(bearerToken({ headers: { authorization: 'bearer abc' } }), 'abc')
    assert.equal(bearerToken({ headers: { authorization: 'Bearer a"b' } }), null)
    assert.equal(bearerToken({ headers: {} }), null)
  })
})
