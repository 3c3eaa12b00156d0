// Remote-client deadlines, `client.check()` and misconfigured clients in the Express middleware
// (issue #12, item 8), against a real `authgate serve` and a real TCP listener that accepts
// connections and never answers. No wall-clock window is asserted: a call must settle at all
// (before a generous bound far below the old 30 s) and with which exception.
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'

import {
  ScalekitClient,
  ScalekitGatewayTimeoutException,
  ScalekitServiceUnavailableException,
  ScalekitUnauthorizedException,
} from 'authgate'
import { authenticateToken, requireScope } from 'authgate/express'
import { startServer, listen, require } from './helpers.mjs'

const SETTLES_BEFORE_MS = 29_000

/** Rejects if `promise` has not settled before the bound; otherwise its rejection reason. */
async function failure(promise) {
  let timer
  const bound = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('the call hung')), SETTLES_BEFORE_MS)
  })
  try {
    await Promise.race([promise, bound])
  } catch (err) {
    return err
  } finally {
    clearTimeout(timer)
  }
  assert.fail('the call did not fail')
}

describe('remote deadlines and check()', () => {
  let silent
  let silentUrl
  const held = []
  let server

  before(async () => {
    silent = createServer((socket) => held.push(socket))
    await new Promise((r) => silent.listen(0, '127.0.0.1', r))
    silentUrl = `http://127.0.0.1:${silent.address().port}`
    server = await startServer()
  })

  after(async () => {
    for (const s of held) s.destroy()
    await new Promise((r) => silent.close(r))
    await server.stop()
  })

  test('a silent environment fails every call with deadline_exceeded', async () => {
    const client = new ScalekitClient(silentUrl, 'skc_silent', 's'.repeat(32), { timeout: 1.5, retries: 2 })
    assert.equal(client.options.timeout, 1.5)
    for (const call of [() => client.token.validateToken(`agk_${'x'.repeat(40)}`), () => client.check(), () => client.getClientAccessToken()]) {
      const err = await failure(call())
      assert.ok(err instanceof ScalekitGatewayTimeoutException, String(err))
      assert.equal(err.code, 'deadline_exceeded')
      assert.ok(!String(err.message).includes('s'.repeat(32)))
    }
  })

  test('check() passes with good credentials and names refused ones', async () => {
    await new ScalekitClient(server.url, server.clientId, server.clientSecret).check()
    const bad = new ScalekitClient(server.url, server.clientId, 'not-the-secret')
    const err = await failure(bad.check())
    assert.ok(err instanceof ScalekitUnauthorizedException, String(err))
    assert.equal(err.code, 'invalid_client')
    const closed = new ScalekitClient('http://127.0.0.1:9', 'skc_1', 'secret', { timeout: 2 })
    const down = await failure(closed.check())
    assert.ok(down instanceof ScalekitServiceUnavailableException || down instanceof ScalekitGatewayTimeoutException, String(down))
  })

  test('Express answers a misconfigured client with 500 and one log line; requireScope() needs a scope', async () => {
    assert.throws(() => requireScope(), /at least one scope/)
    assert.throws(() => requireScope([]), /at least one scope/)
    const bad = new ScalekitClient(server.url, server.clientId, 'not-the-secret')
    const express = require('express')
    const app = express()
    app.get('/x', authenticateToken(bad), (req, res) => res.json({ ok: true }))
    const http = await listen(app)
    const logged = []
    const original = console.error
    console.error = (...args) => logged.push(args.join(' '))
    try {
      const res = await fetch(`${http.url}/x`, { headers: { authorization: `Bearer agk_${'x'.repeat(40)}` } })
      assert.equal(res.status, 500)
      assert.deepEqual(await res.json(), { error: 'Authentication is misconfigured on the server' })
    } finally {
      console.error = original
      await http.close()
    }
    assert.equal(logged.length, 1, logged.join('\n'))
    assert.match(logged[0], /invalid_client/)
    assert.match(logged[0], /client\.check\(\)/)
    assert.ok(!logged[0].includes('not-the-secret'))
  })
})
