// The audit log (#13 item 5): `scalekit.audit.listEvents`, against the real `authgate serve`
// (remote) and embedded (SQLite, PostgreSQL): management actions are recorded with actor,
// targets and organization; filters and pages work; bad filters are typed errors; no key in it.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'

import { ScalekitClient, ScalekitBadRequestException } from 'authgate'
import { startServer, tempDir, POSTGRES_URL, NEEDS_POSTGRES, createPostgresDatabase } from './helpers.mjs'

const LOCAL_ISSUER = 'http://authgate.test'

for (const mode of ['remote', 'local', 'postgres']) {
  describe(`audit log (${mode})`, () => {
    const skip = mode === 'postgres' && !POSTGRES_URL ? NEEDS_POSTGRES : false
    const test = (name, fn) => it(name, { skip }, fn)
    let server, tmp, pg, sk

    before(async () => {
      if (skip) return
      if (mode === 'remote') {
        server = await startServer()
        sk = new ScalekitClient(server.url, server.clientId, server.clientSecret)
      } else if (mode === 'postgres') {
        pg = createPostgresDatabase()
        sk = ScalekitClient.local(pg.url, { issuer: LOCAL_ISSUER })
      } else {
        tmp = tempDir()
        sk = ScalekitClient.local(`sqlite://${join(tmp.dir, 'audit.db')}`, { issuer: LOCAL_ISSUER })
      }
    })

    after(async () => {
      if (server) await server.stop()
      if (tmp) tmp.cleanup()
      if (pg) pg.drop()
    })

    test('audit: management actions are listed with filters and pages', async () => {
      const org = (await sk.organization.createOrganization('Audited')).organization.id
      const key = await sk.token.createToken(org, { description: 'ci' })
      await sk.token.invalidateToken(key.token)

      const page = await sk.audit.listEvents({ organizationId: org })
      assert.deepEqual(page.events.map((e) => e.action), ['organization.create', 'api_key.create', 'api_key.revoke'])
      assert.equal(page.totalSize, 3)
      assert.equal(page.nextPageToken, '')
      const revoked = page.events[2]
      assert.match(revoked.id, /^aud_/)
      assert.deepEqual(revoked.targetIds, [key.tokenId])
      assert.equal(revoked.organizationId, org)
      assert.equal(revoked.outcome, 'success')
      assert.equal(revoked.errorCode, undefined)
      assert.ok(revoked.time instanceof Date)
      if (mode === 'remote') {
        assert.match(revoked.actor, /^skc_/)
        assert.equal(revoked.sourceAddress, '127.0.0.1')
      } else {
        assert.equal(revoked.actor, 'embedded')
        assert.equal(revoked.sourceAddress, undefined)
      }
      assert.ok(!JSON.stringify(page).includes(key.token), 'the key is in the audit log')

      const only = await sk.audit.listEvents({ organizationId: org, action: 'api_key.revoke' })
      assert.deepEqual(only.events.map((e) => e.id), [revoked.id])
      const since = await sk.audit.listEvents({ organizationId: org, startTime: revoked.time })
      assert.ok(since.events.some((e) => e.id === revoked.id))
      assert.ok(since.events.every((e) => e.time >= revoked.time))

      const first = await sk.audit.listEvents({ organizationId: org, pageSize: 2 })
      assert.equal(first.events.length, 2)
      const second = await sk.audit.listEvents({ organizationId: org, pageSize: 2, pageToken: first.nextPageToken })
      assert.deepEqual(second.events.map((e) => e.id), [revoked.id])
      assert.notEqual(second.prevPageToken, '')
    })

    test('audit: bad filters are typed errors', async () => {
      for (const options of [{ action: 'api_key.explode' }, { organizationId: 'acme' }, { pageSize: 101 }, { startTime: 'yesterday' }]) {
        await assert.rejects(sk.audit.listEvents(options), (err) => {
          assert.ok(err instanceof ScalekitBadRequestException, `${JSON.stringify(options)}: ${err && err.constructor.name}`)
          assert.equal(err.code, 'invalid_argument')
          return true
        })
      }
    })
  })
}
