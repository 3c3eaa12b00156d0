// tests/vectors/client_options.json against the real Node constructors: the same option names
// (camelCase here, snake_case in Python) and defaults as the Python package, set up by the core.
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import { ScalekitClient, ScalekitBadRequestException } from 'authgate'
import { repoDir, tempDir } from './helpers.mjs'

const doc = JSON.parse(readFileSync(join(repoDir, 'tests', 'vectors', 'client_options.json'), 'utf8'))
const URL = 'http://127.0.0.1:9'
const remote = (options) => new ScalekitClient(URL, 'skc_options', 's'.repeat(32), options)

describe('client options', () => {
  let tmp
  before(() => {
    tmp = tempDir()
  })
  after(() => tmp.cleanup())

  test('remote defaults and mode', () => {
    const client = remote()
    assert.equal(client.mode, doc.modes.remote)
    assert.deepEqual({ ...client.options }, Object.fromEntries(doc.remote.options.map((o) => [o.camel, o.default])))
  })

  for (const option of doc.remote.options) {
    test(`remote option ${option.camel} takes effect`, () => {
      assert.equal(remote({ [option.camel]: option.test_value }).options[option.camel], option.test_value)
    })
  }

  test('unknown options and bad values are refused', () => {
    assert.throws(() => remote({ timeoutMs: 5 }), ScalekitBadRequestException)
    assert.throws(() => remote({ timeout: 0 }), (err) => err instanceof ScalekitBadRequestException && err.field === 'timeout')
    assert.throws(() => remote({ connectTimeout: -1 }), (err) => err instanceof ScalekitBadRequestException && err.field === 'connectTimeout')
    assert.throws(() => remote({ retries: 11 }), (err) => err instanceof ScalekitBadRequestException && err.field === 'retries')
    assert.throws(() => ScalekitClient.local(`sqlite://${join(tmp.dir, 'x.db')}`, { key_pepper: 'x' }), ScalekitBadRequestException)
  })

  test('local options', () => {
    const byName = Object.fromEntries(doc.local.options.map((o) => [o.camel, o]))
    assert.deepEqual(Object.keys(byName), ['issuer', 'keyPepper', 'masterKey'])
    const issuer = byName.issuer.test_value
    const client = ScalekitClient.local(`sqlite://${join(tmp.dir, 'issuer.db')}`, { issuer })
    assert.equal(client.mode, doc.modes.local)
    assert.equal(client.issuer, issuer)
    assert.equal(client.options, null)
    // A too-short pepper or master key is refused by the core: the option reached it.
    for (const name of ['keyPepper', 'masterKey']) {
      assert.throws(
        () => ScalekitClient.local(`sqlite://${join(tmp.dir, `${name}.db`)}`, { [name]: byName[name].test_value }),
        (err) => err instanceof ScalekitBadRequestException && err.code === 'invalid_argument',
        name,
      )
    }
  })
})
