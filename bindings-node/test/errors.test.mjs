// tests/vectors/errors.json in Node: every class it names is exported by `authgate`, and real
// failures (an embedded authority on a temporary SQLite file, real JWT validators) reject with the
// listed class, code and statuses. The Rust suite checks the same file against
// Error::code/http_status/grpc_code; the Python suite checks its classes.
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import * as authgate from 'authgate'
import { ScalekitClient, JwtValidator, ScalekitException, ScalekitServerException } from 'authgate'
import { repoDir, tempDir, freshDayWindow, DAY } from './helpers.mjs'

const vectors = join(repoDir, 'tests', 'vectors')
const ERRORS = Object.fromEntries(
  JSON.parse(readFileSync(join(vectors, 'errors.json'), 'utf8')).errors.map((e) => [e.code, e]),
)
const MIDDLEWARE = JSON.parse(readFileSync(join(vectors, 'middleware.json'), 'utf8'))

/** A JWT of the middleware vectors, by case name. */
function token(name) {
  return MIDDLEWARE.cases.find((c) => c.name === name).authorization.split(' ')[1]
}

describe('errors.json', () => {
  let tmp
  let client

  before(() => {
    tmp = tempDir()
    client = ScalekitClient.local(`sqlite://${join(tmp.dir, 'errors.db')}`, { issuer: 'https://api.example.test' })
  })
  after(() => tmp.cleanup())

  test('every class it names is exported', () => {
    for (const [code, entry] of Object.entries(ERRORS)) {
      const Class = authgate[entry.node_class]
      assert.equal(typeof Class, 'function', code)
      assert.ok(Class.prototype instanceof ScalekitException, code)
    }
  })

  test('real failures reject with the listed class, code and statuses', async () => {
    const jwt = MIDDLEWARE.jwt
    const scoped = new JwtValidator({ issuer: jwt.issuer, jwks: jwt.jwks })
    const down = new JwtValidator({ issuer: jwt.issuer, jwksUrl: jwt.unreachable_jwks_url })
    const external = `dup-${process.pid}-${Date.now()}`
    const { organization } = await client.organization.createOrganization('Dup', { externalId: external })
    await freshDayWindow()
    const limited = (await client.token.createToken(organization.id, { rateLimit: { limit: 1, windowSeconds: DAY } })).token
    await client.token.validateToken(limited)
    const triggers = {
      invalid_argument: () => client.token.createToken('org_1', { description: 'x'.repeat(1000) }),
      not_found: () => client.organization.getOrganization('org_404404404'),
      already_exists: () => client.organization.createOrganization('Dup', { externalId: external }),
      token_validation_failed: () => client.token.validateToken('agk_not_a_key'),
      token_malformed: () => scoped.validate('not-a-jwt'),
      token_expired: () => scoped.validate(token('jwt_expired')),
      invalid_signature: () => scoped.validate(token('jwt_bad_signature')),
      invalid_issuer: () => scoped.validate(token('jwt_other_issuer')),
      insufficient_scope: () => scoped.validate(token('jwt_missing_scope'), { requiredScopes: ['invoices:read'] }),
      keys_unavailable: () => down.validate(token('jwt_valid')),
      invalid_client: () => client.generateClientToken('m2morg_404', 'wrong-secret'),
      failed_precondition: () => client.getClientAccessToken(),
      rate_limited: () => client.token.validateToken(limited),
    }
    for (const [code, call] of Object.entries(triggers)) {
      const entry = ERRORS[code]
      let caught
      try {
        await call()
      } catch (err) {
        caught = err
      }
      assert.ok(caught instanceof ScalekitException, `${code}: ${caught}`)
      assert.equal(caught.constructor.name, entry.node_class, code)
      assert.equal(caught.code, code)
      if (caught instanceof ScalekitServerException) {
        assert.equal(caught.httpStatus, entry.http_status, code)
        assert.equal(caught.grpcStatus, entry.grpc_status, code)
      }
    }
  })
})
