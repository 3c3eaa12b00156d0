// The shared JWT vectors (tests/vectors/*.json) through JwtValidator: the same outcome and error
// code as the Rust suite, synchronously and asynchronously, with the verified-token cache on
// (twice: the second run is a hit) and off.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import { JwtValidator, ScalekitValidateTokenFailureException, ScalekitKeysUnavailableException } from 'authgate'
import { repoDir, startServer } from './helpers.mjs'

const vectorDir = join(repoDir, 'tests', 'vectors')

// index.json (written by core/examples/gen_vectors.rs) lists the exact vector files and their
// case counts: a missing file, or a file with a case more or less, fails here.
const index = JSON.parse(readFileSync(join(vectorDir, 'index.json'), 'utf8')).files

function loadCases() {
  const cases = []
  for (const [file, count] of Object.entries(index)) {
    const doc = JSON.parse(readFileSync(join(vectorDir, file), 'utf8'))
    assert.equal(doc.cases.length, count, `${file}: index.json says ${count} cases`)
    for (const c of doc.cases) cases.push({ file, ...c })
  }
  return cases
}

function validatorFor(c, cache) {
  const o = c.options
  return new JwtValidator({
    jwks: c.jwks,
    issuer: o.issuer === null ? undefined : o.issuer,
    audience: o.audiences,
    algorithms: o.algorithms,
    leeway: o.leeway,
    dangerousNow: o.now,
    maxTokenSize: o.max_token_size,
    typ: o.typ === null ? undefined : o.typ,
    scopeClaims: o.scope_claims,
    requiredScopes: o.required_scopes,
    scopeMatch: o.scope_match,
    tokenCacheSize: cache ? 100 : 0,
  })
}

function checkOutcome(c, how, outcome) {
  const where = `${c.file} / ${c.name} (${how})`
  const e = c.expected
  if (e.valid) {
    assert.equal(outcome.error, undefined, `${where}: expected valid, got ${outcome.error && outcome.error.code}`)
    for (const [k, v] of Object.entries(e.claims)) assert.deepEqual(outcome.claims[k], v, `${where}: claim ${k}`)
  } else {
    assert.ok(outcome.error, `${where}: expected ${e.error}, got valid claims`)
    const err = outcome.error
    assert.ok(err instanceof ScalekitValidateTokenFailureException, `${where}: ${err.constructor.name} ${err.message}`)
    assert.equal(err.code, e.error, `${where}: code`)
    assert.equal(err.httpStatus, e.status, `${where}: status`)
    if (e.missing) assert.deepEqual(err.missingScopes, e.missing, `${where}: missing`)
  }
}

function sync(v, token) {
  try {
    return { claims: v.validateSync(token) }
  } catch (error) {
    return { error }
  }
}

async function promised(v, token) {
  try {
    return { claims: await v.validate(token) }
  } catch (error) {
    return { error }
  }
}

describe('shared JWT vectors', () => {
  const cases = loadCases()

  test('exactly the files and case counts of index.json', () => {
    assert.ok(Object.keys(index).length > 0, 'index.json lists no files')
    assert.equal(cases.length, Object.values(index).reduce((a, b) => a + b, 0))
    assert.deepEqual([...new Set(cases.map((c) => c.file))], Object.keys(index))
  })

  test('every case: sync and async, cache off and on (twice)', async () => {
    for (const c of cases) {
      for (const cache of [false, true]) {
        const v = validatorFor(c, cache)
        for (let round = 0; round < (cache ? 2 : 1); round++) {
          checkOutcome(c, `sync cache=${cache} round=${round}`, sync(v, c.token))
          checkOutcome(c, `async cache=${cache} round=${round}`, await promised(v, c.token))
          const step = (() => {
            try {
              return { claims: v.tryValidate(c.token) }
            } catch (error) {
              return { error }
            }
          })()
          if (!step.error) assert.notEqual(step.claims, undefined, 'a static key set never needs a fetch')
          checkOutcome(c, `tryValidate cache=${cache}`, step)
        }
        if (c.expected.valid) {
          assert.deepEqual(v.grantedScopes(c.token), c.expected.scopes, `${c.file} / ${c.name}: scopes`)
        }
      }
    }
  })
})

describe('JwtValidator against a live JWKS', () => {
  test('keys fetched from jwksUrl, then verification is synchronous; discovery works; 503 class when keys are unavailable', async () => {
    const server = await startServer()
    try {
      const { ScalekitClient } = await import('authgate')
      const sk = new ScalekitClient(server.url, server.clientId, server.clientSecret)
      const { organization } = await sk.organization.createOrganization('Vectors')
      const { client, plainSecret } = await sk.m2m.createOrganizationClient(organization.id, { name: 'svc', scopes: ['a:read'] })
      const jwt = await sk.generateClientToken(client.clientId, plainSecret)

      const v = new JwtValidator({ jwksUrl: `${server.url}/keys`, issuer: server.url })
      assert.equal(v.tryValidate(jwt), undefined, 'cold cache: a fetch is needed')
      const claims = await v.validate(jwt, { requiredScopes: ['a:read'] })
      assert.equal(claims.sub, client.clientId)
      assert.equal(v.tryValidate(jwt).sub, client.clientId, 'warm cache: synchronous')
      assert.equal(v.validateSync(jwt).oid, organization.id)

      const byDiscovery = new JwtValidator({ issuer: server.url })
      await byDiscovery.refresh()
      assert.equal(byDiscovery.validateSync(jwt).sub, client.clientId)

      const cold = new JwtValidator({ jwksUrl: 'http://127.0.0.1:9/keys', jwksFetchTimeout: 1 })
      await assert.rejects(cold.validate(jwt), (e) => e instanceof ScalekitKeysUnavailableException && e.httpStatus === 503)
    } finally {
      await server.stop()
    }
  })

  test('bad options are typed errors', () => {
    assert.throws(() => new JwtValidator({}), { message: 'jwksUrl is required' })
    assert.throws(() => new JwtValidator({ jwksUrl: 'ftp://x/keys' }), { code: 'invalid_argument' })
    assert.throws(() => new JwtValidator({ jwksUrl: 'http://auth.example.com/keys' }), { code: 'invalid_argument' })
    assert.throws(() => new JwtValidator({ jwks: { keys: [] }, algorithms: ['HS256'] }), { code: 'invalid_argument' })
    assert.throws(() => new JwtValidator({ jwks: { keys: [] }, scopeMatch: 'some' }), { code: 'invalid_argument' })
  })
})
