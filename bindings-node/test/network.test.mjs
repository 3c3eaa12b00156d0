// tests/vectors/network.json through the native module: how networks parse, which addresses they
// contain, and which address a request counts as coming from — the core's rule
// (`policy::network`), which the Express middleware calls and never re-implements. The Rust
// (core/tests/network_vectors.rs) and Python suites run the same cases.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import { clientAddress, ScalekitBadRequestException } from 'authgate'
import { repoDir, require } from './helpers.mjs'

const native = require('../native.js')
const doc = JSON.parse(readFileSync(join(repoDir, 'tests', 'vectors', 'network.json'), 'utf8'))

/** `parseNetworks` through the package's error translation. */
function parse(list, field) {
  const { toScalekitError } = require('authgate')
  try {
    return native.parseNetworks(list, field)
  } catch (err) {
    throw toScalekitError(err)
  }
}

describe('network.json', () => {
  test('the file has cases of every kind', () => {
    assert.ok(doc.networks.length >= 10)
    assert.ok(doc.contains.length >= 10)
    assert.ok(doc.client_address.length >= 10)
  })

  describe('networks parse as the vectors say', () => {
    for (const c of doc.networks) {
      test(JSON.stringify(c.input), () => {
        if (c.error) {
          assert.throws(
            () => parse([c.input]),
            (err) =>
              err instanceof ScalekitBadRequestException &&
              err.code === 'invalid_argument' &&
              err.field === 'trustedProxies' &&
              (!c.error_mentions || err.message.includes(c.error_mentions)),
          )
        } else {
          assert.deepEqual(parse([c.input]), [c.canonical])
        }
      })
    }
  })

  describe('containment as the vectors say', () => {
    // A peer inside the trusted network is a proxy, so its X-Forwarded-For entry is the answer;
    // outside, the peer itself. The entry is of the other family, so never inside the network.
    for (const c of doc.contains) {
      test(`${c.network} ∋ ${c.address}: ${c.expected}`, () => {
        const network = parse([c.network])[0]
        const marker = network.includes(':') ? '192.0.2.99' : '2001:db8::99'
        assert.equal(clientAddress(c.address, marker, [c.network]) === marker, c.expected)
      })
    }
  })

  describe('client addresses as the vectors say', () => {
    for (const c of doc.client_address) {
      test(c.description, () => {
        assert.equal(clientAddress(c.peer, c.forwarded_for, c.trusted_proxies), c.expected)
      })
    }
  })

  test('peers that are no address, and bad trusted proxies', () => {
    for (const peer of [undefined, null, '', 'testclient']) {
      assert.equal(clientAddress(peer, '198.51.100.1', ['0.0.0.0/0']), null)
    }
    assert.throws(
      () => clientAddress('10.0.0.1', [], ['10.0.0.1/8']),
      (err) => err instanceof ScalekitBadRequestException && /10\.0\.0\.0\/8/.test(err.message),
    )
    assert.deepEqual(parse(['192.0.2.0/24'], 'allowedCidrs'), ['192.0.2.0/24'])
    assert.throws(() => parse(['nope'], 'allowedCidrs'), (err) => err.field === 'allowedCidrs')
  })
})
