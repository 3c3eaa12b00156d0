// The package entry points: CommonJS and ESM give the same objects; the official names exist.
const { test } = require('node:test')
const assert = require('node:assert/strict')

test('require("authgate") and import("authgate") expose the same surface', async () => {
  const cjs = require('authgate')
  const esm = await import('authgate')
  assert.equal(esm.ScalekitClient, cjs.ScalekitClient)
  assert.equal(esm.default, cjs.ScalekitClient)
  assert.equal(cjs.default, cjs.ScalekitClient)
  assert.equal(cjs.Scalekit, cjs.ScalekitClient)
  for (const name of Object.keys(cjs)) {
    if (name === 'default') continue
    assert.ok(name in esm, `ESM lacks ${name}`)
    assert.equal(esm[name], cjs[name], name)
  }
  assert.equal(cjs.version, require('../package.json').version)
})

test('require("authgate/express") and import("authgate/express")', async () => {
  const cjs = require('authgate/express')
  const esm = await import('authgate/express')
  for (const name of ['setup', 'authenticateToken', 'requireScope', 'bearerToken']) {
    assert.equal(typeof cjs[name], 'function', name)
    assert.equal(esm[name], cjs[name], name)
  }
})

test('the exception tree mirrors the official SDK', () => {
  const a = require('authgate')
  const server = [
    'BadRequest', 'Unauthorized', 'Forbidden', 'NotFound', 'Conflict', 'TooManyRequests', 'Cancelled',
    'InternalServer', 'NotImplemented', 'ServiceUnavailable', 'GatewayTimeout', 'Unknown',
  ]
  for (const s of server) {
    const Class = a[`Scalekit${s}Exception`]
    const e = new Class('x', { code: 'c' })
    assert.ok(e instanceof a.ScalekitServerException && e instanceof a.ScalekitException && e instanceof Error)
    assert.equal(e.name, `Scalekit${s}Exception`)
  }
  assert.ok(new a.ScalekitValidateTokenFailureException() instanceof a.ScalekitException)
  assert.ok(!(new a.ScalekitValidateTokenFailureException() instanceof a.ScalekitServerException))
  assert.ok(new a.ScalekitKeysUnavailableException('x') instanceof a.ScalekitServiceUnavailableException)
  // Anything that is not a native authgate error passes through unchanged.
  const plain = new TypeError('t')
  assert.equal(a.toScalekitError(plain), plain)
})
