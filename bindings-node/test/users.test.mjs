// Organization updates, users and memberships (#11): `scalekit.organization.updateOrganization`
// and every `scalekit.user` method, against the real `authgate serve` (remote) and embedded
// (SQLite, PostgreSQL).
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'

import {
  ScalekitClient,
  ScalekitException,
  ScalekitValidateTokenFailureException,
  ScalekitBadRequestException,
  ScalekitNotFoundException,
  ScalekitConflictException,
} from 'authgate'
import { startServer, tempDir, uniqueEmail, POSTGRES_URL, NEEDS_POSTGRES, createPostgresDatabase } from './helpers.mjs'

const LOCAL_ISSUER = 'http://authgate.test'

async function rejectsWith(promise, Class, code, field) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof Class, `expected ${Class.name}, got ${err && err.constructor.name}: ${err && err.message}`)
    assert.ok(err instanceof ScalekitException)
    if (code) assert.equal(err.code, code, err.message)
    if (field) assert.ok(err.message.includes(`invalid ${field}:`), err.message)
    return true
  })
}

const unique = (prefix) => `${prefix}-${randomBytes(6).toString('hex')}`

function rolesIn(user, organizationId) {
  const m = user.memberships.find((m) => m.organizationId === organizationId)
  return m ? m.roles.map((r) => r.name) : undefined
}

for (const mode of ['remote', 'local', 'postgres']) {
  describe(`users and memberships (${mode})`, () => {
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
        sk = ScalekitClient.local(`sqlite://${join(tmp.dir, 'users.db')}`, { issuer: LOCAL_ISSUER })
      }
    })

    after(async () => {
      if (server) await server.stop()
      if (tmp) tmp.cleanup()
      if (pg) pg.drop()
    })

    const newOrg = async (name = 'Org') => (await sk.organization.createOrganization(name)).organization.id
    const newMember = async (organizationId, roles = []) =>
      (await sk.user.createUserAndMembership(organizationId, { email: uniqueEmail(), externalId: unique('user'), roles })).user

    test('organization: update', async () => {
      const externalId = unique('org')
      const { organization } = await sk.organization.createOrganization('Before', { externalId })
      const renamed = (await sk.organization.updateOrganization(organization.id, { displayName: 'After' })).organization
      assert.equal(renamed.displayName, 'After')
      assert.equal(renamed.externalId, externalId)
      assert.deepEqual((await sk.organization.getOrganization(organization.id)).organization, renamed)
      const moved = unique('org')
      assert.equal((await sk.organization.updateOrganization(organization.id, { externalId: moved })).organization.externalId, moved)
      const cleared = (await sk.organization.updateOrganization(organization.id, { externalId: '' })).organization
      assert.equal(cleared.externalId ?? null, null)

      const otherExternal = unique('org')
      await sk.organization.createOrganization('Other', { externalId: otherExternal })
      await rejectsWith(sk.organization.updateOrganization(organization.id, { externalId: otherExternal }), ScalekitConflictException, 'already_exists')
      await rejectsWith(sk.organization.updateOrganization(organization.id, {}), ScalekitBadRequestException, 'invalid_argument', 'organization')
      await rejectsWith(sk.organization.updateOrganization('usr_1', { displayName: 'x' }), ScalekitBadRequestException, 'invalid_argument', 'organization_id')
      await rejectsWith(sk.organization.updateOrganization('org_404404', { displayName: 'x' }), ScalekitNotFoundException, 'not_found')
      await rejectsWith(sk.organization.updateOrganization(organization.id, { displayName: 'x', metadata: { a: 'b' } }), ScalekitBadRequestException, 'invalid_argument')
      await rejectsWith(sk.organization.updateOrganization(organization.id), ScalekitBadRequestException, 'invalid_argument')
      assert.deepEqual((await sk.organization.getOrganization(organization.id)).organization, cleared)
    })

    test('user: get, list, update', async () => {
      const org = await newOrg()
      const ann = await newMember(org, ['admin'])
      const bob = await newMember(org)
      const got = (await sk.user.getUser(ann.id)).user
      assert.equal(got.email, ann.email)
      assert.deepEqual(rolesIn(got, org), ['admin'])
      assert.equal((await sk.user.getUserByExternalId(ann.externalId)).user.id, ann.id)

      const seen = []
      let pageToken
      do {
        const page = await sk.user.listUsers({ pageSize: 100, pageToken })
        assert.ok(page.totalSize >= 2)
        seen.push(...page.users.map((u) => u.id))
        pageToken = page.nextPageToken
      } while (pageToken)
      assert.ok(seen.indexOf(ann.id) < seen.indexOf(bob.id) && seen.indexOf(ann.id) >= 0)
      const first = await sk.user.listUsers({ pageSize: 1 })
      assert.equal(first.users.length, 1)
      assert.ok(first.nextPageToken)
      const members = await sk.user.listOrganizationUsers(org, { pageSize: 10 })
      assert.deepEqual(members.users.map((u) => u.id), [ann.id, bob.id])

      const renamed = unique('renamed')
      assert.equal((await sk.user.updateUser(ann.id, { externalId: renamed })).user.externalId, renamed)
      await rejectsWith(sk.user.getUserByExternalId(ann.externalId), ScalekitNotFoundException, 'not_found')
      assert.equal((await sk.user.updateUserByExternalId(renamed, { externalId: ann.externalId })).user.externalId, ann.externalId)

      await rejectsWith(sk.user.updateUser(bob.id, { externalId: ann.externalId }), ScalekitConflictException, 'already_exists')
      await rejectsWith(sk.user.updateUser(bob.id, {}), ScalekitBadRequestException, 'invalid_argument', 'user')
      await rejectsWith(sk.user.updateUser(bob.id, { userProfile: { firstName: 'B' } }), ScalekitBadRequestException, 'invalid_argument')
      await rejectsWith(sk.user.getUser(org), ScalekitBadRequestException, 'invalid_argument', 'user_id')
      await rejectsWith(sk.user.getUser(''), ScalekitBadRequestException, 'invalid_argument')
      await rejectsWith(sk.user.updateUser('usr_404404', { externalId: 'x' }), ScalekitNotFoundException, 'not_found')
      assert.equal((await sk.user.getUser(bob.id)).user.externalId, bob.externalId)
      assert.equal((await sk.user.updateUser(bob.id, { externalId: '' })).user.externalId ?? null, null)
    })

    test('user: delete revokes their keys at once', async () => {
      const org = await newOrg()
      const other = await newOrg('Other')
      const ann = await newMember(org)
      await sk.user.createMembership(other, ann.id, { roles: ['viewer'] })
      const bob = await newMember(org)
      const keys = [(await sk.token.createToken(org, { userId: ann.id })).token, (await sk.token.createToken(other, { userId: ann.id })).token]
      const bobKey = (await sk.token.createToken(org, { userId: bob.id })).token
      for (const key of keys) assert.equal((await sk.token.validateToken(key)).tokenInfo.userId, ann.id)

      await sk.user.deleteUserByExternalId(ann.externalId)
      for (const key of keys) await rejectsWith(sk.token.validateToken(key), ScalekitValidateTokenFailureException, 'token_validation_failed')
      assert.equal((await sk.token.validateToken(bobKey)).tokenInfo.userId, bob.id)
      await rejectsWith(sk.user.getUser(ann.id), ScalekitNotFoundException, 'not_found')
      await rejectsWith(sk.user.deleteUser(ann.id), ScalekitNotFoundException, 'not_found')
      await sk.user.deleteUser(bob.id)
      await rejectsWith(sk.token.validateToken(bobKey), ScalekitValidateTokenFailureException, 'token_validation_failed')
    })

    test('user: memberships by id and by external id', async () => {
      const home = await newOrg('Home')
      const second = await newOrg('Second')
      const third = await newOrg('Third')
      const ann = await newMember(home, ['admin'])

      const joined = (await sk.user.createMembership(second, ann.id, { roles: ['viewer'], sendInvitationEmail: false })).user
      assert.deepEqual(rolesIn(joined, second), ['viewer'])
      assert.deepEqual(rolesIn((await sk.user.createMembershipByExternalId(third, ann.externalId)).user, third), [])
      await rejectsWith(sk.user.createMembership(second, ann.id), ScalekitConflictException, 'already_exists')
      await rejectsWith(sk.user.createMembership(second, ann.id, { metadata: { a: 'b' } }), ScalekitBadRequestException, 'invalid_argument')

      const key = (await sk.token.createToken(second, { userId: ann.id })).token
      assert.deepEqual((await sk.token.validateToken(key)).tokenInfo.roles, ['viewer'])
      const updated = (await sk.user.updateMembership(second, ann.id, { roles: ['owner', { name: 'billing' }] })).user
      assert.deepEqual(rolesIn(updated, second), ['owner', 'billing'])
      assert.deepEqual(rolesIn(updated, home), ['admin'])
      assert.deepEqual((await sk.token.validateToken(key)).tokenInfo.roles, ['owner', 'billing'])
      assert.deepEqual(rolesIn((await sk.user.updateMembershipByExternalId(second, ann.externalId, { roles: [] })).user, second), [])
      await rejectsWith(sk.user.updateMembership(second, ann.id, { roles: ['has space'] }), ScalekitBadRequestException, 'invalid_argument', 'roles')

      const homeKey = (await sk.token.createToken(home, { userId: ann.id })).token
      await sk.user.deleteMembership(second, ann.id)
      await rejectsWith(sk.token.validateToken(key), ScalekitValidateTokenFailureException, 'token_validation_failed')
      assert.equal((await sk.token.validateToken(homeKey)).tokenInfo.userId, ann.id)
      await sk.user.deleteMembershipByExternalId(third, ann.externalId)
      assert.deepEqual((await sk.user.getUser(ann.id)).user.memberships.map((m) => m.organizationId), [home])
      await rejectsWith(sk.user.deleteMembership(second, ann.id), ScalekitNotFoundException, 'not_found')
      await rejectsWith(sk.user.updateMembership(second, ann.id, { roles: ['x'] }), ScalekitNotFoundException, 'not_found')
    })
  })
}
