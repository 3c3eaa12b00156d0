// Every ScalekitClient method, against the real `authgate serve` (remote) and embedded (local).
import { describe, it, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { existsSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs'

import {
  ScalekitClient,
  Scalekit,
  ScalekitException,
  ScalekitValidateTokenFailureException,
  ScalekitInsufficientScopeException,
  ScalekitServerException,
  ScalekitBadRequestException,
  ScalekitNotFoundException,
  ScalekitUnauthorizedException,
  ScalekitConflictException,
  ScalekitServiceUnavailableException,
  ScalekitRateLimitedException,
  ScalekitTooManyRequestsException,
  ClientSecretStatus,
  ClientCredentials,
} from 'authgate'
import { startServer, tempDir, uniqueEmail, freshDayWindow, DAY, POSTGRES_URL, NEEDS_POSTGRES, createPostgresDatabase } from './helpers.mjs'

const LOCAL_ISSUER = 'http://authgate.test'

async function rejectsWith(promise, Class, code) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof Class, `expected ${Class.name}, got ${err && err.constructor.name}: ${err && err.message}`)
    assert.ok(err instanceof ScalekitException)
    if (code) assert.equal(err.code, code)
    return true
  })
}

// The PostgreSQL run is reported as skipped (not passed) without a cluster.
const modes = ['remote', 'local', 'postgres']
const RUN = Date.now().toString(36)

for (const mode of modes) {
  describe(`ScalekitClient (${mode})`, () => {
    // Without PostgreSQL each test of the PostgreSQL run is reported as skipped (counted in the
    // summary), and the hooks do nothing.
    const skip = mode === 'postgres' && !POSTGRES_URL ? NEEDS_POSTGRES : false
    const test = (name, fn) => it(name, { skip }, fn)
    let server
    let tmp
    let pg
    /** @type {import('authgate').ScalekitClient} */
    let sk
    let orgId

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
        sk = ScalekitClient.local(`sqlite://${join(tmp.dir, 'embedded.db')}`, { issuer: LOCAL_ISSUER })
      }
      const { organization } = await sk.organization.createOrganization('Acme Corp', { externalId: `acme-${mode}-${RUN}` })
      orgId = organization.id
    })

    after(async () => {
      if (server) await server.stop()
      if (tmp) tmp.cleanup()
      if (pg) pg.drop()
    })

    test('mode, issuer and the official aliases', () => {
      assert.equal(sk.mode, mode === 'remote' ? 'remote' : 'embedded')
      assert.equal(sk.issuer, mode === 'remote' ? server.url : LOCAL_ISSUER)
      assert.equal(Scalekit, ScalekitClient)
    })

    test('organization: create, get, list with pages, delete', async () => {
      const { organization } = await sk.organization.createOrganization('Globex', { externalId: `globex-${mode}-${RUN}` })
      assert.match(organization.id, /^org_/)
      assert.equal(organization.displayName, 'Globex')
      assert.equal(organization.externalId, `globex-${mode}-${RUN}`)
      assert.ok(organization.createTime instanceof Date)

      const got = await sk.organization.getOrganization(organization.id)
      assert.deepEqual(got.organization, organization)

      await rejectsWith(sk.organization.createOrganization('Dup', { externalId: `globex-${mode}-${RUN}` }), ScalekitConflictException, 'already_exists')

      const page1 = await sk.organization.listOrganization({ pageSize: 1 })
      assert.equal(page1.organizations.length, 1)
      assert.ok(page1.totalSize >= 2)
      assert.notEqual(page1.nextPageToken, '')
      const page2 = await sk.organization.listOrganization({ pageSize: 1, pageToken: page1.nextPageToken })
      assert.notEqual(page2.organizations[0].id, page1.organizations[0].id)

      assert.deepEqual(await sk.organization.deleteOrganization(organization.id), {})
      await rejectsWith(sk.organization.getOrganization(organization.id), ScalekitNotFoundException, 'not_found')
    })

    test('token: the seed flow — create, validate, list, update, invalidate', async () => {
      // Organization-scoped key.
      const response = await sk.token.createToken(orgId, { description: 'CI/CD pipeline token' })
      const opaqueToken = response.token
      const tokenId = response.tokenId
      assert.match(tokenId, /^apit_/)
      assert.equal(response.tokenInfo.tokenId, tokenId)
      assert.equal(response.tokenInfo.description, 'CI/CD pipeline token')
      assert.equal(response.tokenInfo.tokenSuffix, opaqueToken.slice(-4))
      assert.ok(response.tokenInfo.createdAt instanceof Date)
      assert.equal(response.tokenInfo.userId, undefined)

      // User-scoped key with claims and expiry.
      const email = uniqueEmail()
      const { user } = await sk.user.createUserAndMembership(orgId, { email, externalId: 'ext-u1', roles: ['admin'] })
      assert.match(user.id, /^usr_/)
      assert.equal(user.email, email)
      assert.deepEqual(user.memberships.map((m) => m.organizationId), [orgId])
      assert.deepEqual(user.memberships[0].roles, [{ name: 'admin' }])
      const expiry = new Date(Date.now() + 3600_000)
      const userKey = await sk.token.createToken(orgId, {
        userId: user.id,
        customClaims: { team: 'engineering', environment: 'production' },
        description: 'Deployment service token',
        expiry,
      })
      assert.equal(userKey.tokenInfo.userId, user.id)
      assert.equal(Math.floor(userKey.tokenInfo.expiry.getTime() / 1000), Math.floor(expiry.getTime() / 1000))

      // Validate: org/user context.
      const result = await sk.token.validateToken(userKey.token)
      const { organizationId, userId, customClaims, roles, organizationExternalId } = result.tokenInfo
      assert.equal(organizationId, orgId)
      assert.equal(userId, user.id)
      assert.deepEqual(customClaims, { team: 'engineering', environment: 'production' })
      assert.deepEqual(roles, ['admin'])
      assert.equal(organizationExternalId, `acme-${mode}-${RUN}`)
      assert.equal(result.tokenInfo.email, email)

      // Invalid keys, and a bare token id presented as a key.
      const typo = opaqueToken.slice(0, -1) + (opaqueToken.endsWith('A') ? 'B' : 'A')
      for (const bad of ['nope', 'agk_' + 'x'.repeat(40), tokenId, typo]) {
        await rejectsWith(sk.token.validateToken(bad), ScalekitValidateTokenFailureException, 'token_validation_failed')
      }

      // List with pagination and the user filter.
      const page = await sk.token.listTokens(orgId, { pageSize: 1 })
      assert.equal(page.tokens.length, 1)
      assert.ok(page.totalCount >= 2)
      assert.notEqual(page.nextPageToken, '')
      const next = await sk.token.listTokens(orgId, { pageSize: 1, pageToken: page.nextPageToken })
      assert.notEqual(next.tokens[0].tokenId, page.tokens[0].tokenId)
      const userTokens = await sk.token.listTokens(orgId, { userId: user.id })
      assert.deepEqual(userTokens.tokens.map((t) => t.tokenId), [userKey.tokenId])

      // Update replaces the claims; '' clears the description.
      const updated = await sk.token.updateToken(userKey.tokenId, { customClaims: { team: 'platform' }, description: '' })
      assert.deepEqual(updated.tokenInfo.customClaims, { team: 'platform' })
      assert.ok(!updated.tokenInfo.description)
      await rejectsWith(sk.token.updateToken(opaqueToken, { customClaims: { k: '' } }), ScalekitBadRequestException, 'invalid_argument')

      // Revocation is instant and idempotent, by key or by id.
      assert.deepEqual(await sk.token.invalidateToken(opaqueToken), {})
      await rejectsWith(sk.token.validateToken(opaqueToken), ScalekitValidateTokenFailureException)
      await sk.token.invalidateToken(opaqueToken)
      await sk.token.invalidateToken(userKey.tokenId)
      await rejectsWith(sk.token.validateToken(userKey.token), ScalekitValidateTokenFailureException)
    })

    test('token: rotation with a grace period, revoked keys in listings', async () => {
      const { organization } = await sk.organization.createOrganization('Rotations')
      const org = organization.id
      const old = await sk.token.createToken(org, { customClaims: { env: 'prod' }, description: 'bot' })
      assert.equal(old.tokenInfo.rotatedFrom, undefined)
      assert.equal(old.tokenInfo.revokedAt, undefined)

      const rotated = await sk.token.rotateToken(old.tokenId, { gracePeriodSeconds: 3600 })
      assert.notEqual(rotated.token, old.token)
      assert.equal(rotated.tokenInfo.rotatedFrom, old.tokenId)
      assert.deepEqual(rotated.tokenInfo.customClaims, { env: 'prod' })
      assert.equal(rotated.tokenInfo.description, 'bot')
      // Both validate during the grace period; the old key's expiry is the end of grace.
      const oldInfo = (await sk.token.validateToken(old.token)).tokenInfo
      assert.equal(oldInfo.rotatedTo, rotated.tokenId)
      const left = oldInfo.expiry.getTime() - Date.now()
      assert.ok(left > 3540_000 && left <= 3600_000, `${left}`)
      await sk.token.validateToken(rotated.token)
      await rejectsWith(sk.token.rotateToken(old.token), ScalekitBadRequestException, 'failed_precondition')

      // No grace: revoked at once, listed only with revoked keys.
      const third = await sk.token.rotateToken(rotated.token, { gracePeriodSeconds: 0 })
      await rejectsWith(sk.token.validateToken(rotated.token), ScalekitValidateTokenFailureException)
      const live = await sk.token.listTokens(org)
      assert.deepEqual(live.tokens.map((t) => t.tokenId), [old.tokenId, third.tokenId])
      const all = await sk.token.listTokens(org, { includeRevoked: true })
      assert.deepEqual(all.tokens.map((t) => t.tokenId), [old.tokenId, rotated.tokenId, third.tokenId])
      assert.ok(all.tokens[1].revokedAt instanceof Date)
      assert.equal(all.tokens[1].rotatedTo, third.tokenId)

      await rejectsWith(sk.token.rotateToken(third.tokenId, { gracePeriodSeconds: -1 }), ScalekitBadRequestException, 'invalid_argument')
      assert.equal((await sk.token.listTokens(org, { includeRevoked: true })).totalCount, 3)

      // Last use: written every few seconds, never by the validation; unusedSince filters on it.
      assert.equal(third.tokenInfo.lastUsedTime, undefined)
      const later = new Date(Date.now() + 60_000)
      const unused = await sk.token.listTokens(org, { unusedSince: later })
      assert.deepEqual(unused.tokens.map((t) => t.tokenId), [old.tokenId, third.tokenId])
      await rejectsWith(sk.token.listTokens(org, { unusedSince: 'yesterday' }), ScalekitBadRequestException, 'invalid_argument')
    })

    test('token: allowedCidrs and rateLimit on create, update, rotate and validate', async () => {
      const { organization } = await sk.organization.createOrganization('Limits')
      const org = organization.id
      await freshDayWindow()
      const created = await sk.token.createToken(org, {
        allowedCidrs: ['10.0.0.0/8', '2001:DB8::/32', '192.0.2.7'],
        rateLimit: { limit: 3, windowSeconds: DAY },
      })
      assert.deepEqual(created.tokenInfo.allowedCidrs, ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7/32'])
      assert.deepEqual(created.tokenInfo.rateLimit, { limit: 3, windowSeconds: 86400 })
      const bare = await sk.token.createToken(org)
      assert.equal(bare.tokenInfo.allowedCidrs, undefined)
      assert.equal(bare.tokenInfo.rateLimit, undefined)

      // Inside the networks, outside, and without an address (refused like an invalid key).
      const v = await sk.token.validateToken(created.token, { clientIp: '10.1.2.3' })
      assert.deepEqual(v.tokenInfo.rateLimit, { limit: 3, windowSeconds: 86400 })
      await sk.token.validateToken(created.token, { clientIp: '2001:db8::9' })
      for (const options of [{ clientIp: '11.0.0.1' }, {}, undefined]) {
        await rejectsWith(sk.token.validateToken(created.token, options), ScalekitValidateTokenFailureException, 'token_validation_failed')
      }
      await rejectsWith(sk.token.validateToken(created.token, { clientIp: '10.0.0.1:80' }), ScalekitBadRequestException, 'invalid_argument')
      await sk.token.validateToken(bare.token, { clientIp: '203.0.113.9' })

      // The third validation used the limit up (the refused ones did not count).
      await sk.token.validateToken(created.token, { clientIp: '10.0.0.1' })
      let caught
      try {
        await sk.token.validateToken(created.token, { clientIp: '10.0.0.1' })
      } catch (err) {
        caught = err
      }
      assert.ok(caught instanceof ScalekitRateLimitedException, String(caught))
      assert.ok(caught instanceof ScalekitTooManyRequestsException)
      assert.ok(!(caught instanceof ScalekitValidateTokenFailureException))
      assert.equal(caught.code, 'rate_limited')
      assert.equal(caught.httpStatus, 429)
      assert.equal(caught.grpcStatus, 8)
      assert.ok(Number.isInteger(caught.retryAfter) && caught.retryAfter >= 1 && caught.retryAfter <= 86400, `${caught.retryAfter}`)
      assert.ok(!caught.message.includes(created.token))

      // Update: replace, keep what is not given, remove.
      let info = (await sk.token.updateToken(created.tokenId, { allowedCidrs: ['192.0.2.0/24'], rateLimit: { limit: 10, windowSeconds: 1 } })).tokenInfo
      assert.deepEqual(info.allowedCidrs, ['192.0.2.0/24'])
      assert.deepEqual(info.rateLimit, { limit: 10, windowSeconds: 1 })
      info = (await sk.token.updateToken(created.token, { description: 'kept' })).tokenInfo
      assert.deepEqual(info.allowedCidrs, ['192.0.2.0/24'])
      info = (await sk.token.updateToken(created.tokenId, { removeAllowedCidrs: true, removeRateLimit: true })).tokenInfo
      assert.equal(info.allowedCidrs, undefined)
      assert.equal(info.rateLimit, undefined)
      assert.equal(info.description, 'kept')
      await sk.token.validateToken(created.token)

      // Rotation keeps the networks and may change the limit.
      const limited = await sk.token.createToken(org, { allowedCidrs: ['10.0.0.0/8'], rateLimit: { limit: 5, windowSeconds: 60 } })
      const rotated = await sk.token.rotateToken(limited.tokenId, { gracePeriodSeconds: 0, rateLimit: { limit: 7, windowSeconds: 10 } })
      assert.deepEqual(rotated.tokenInfo.allowedCidrs, ['10.0.0.0/8'])
      assert.deepEqual(rotated.tokenInfo.rateLimit, { limit: 7, windowSeconds: 10 })

      // Bad input: typed errors that change nothing.
      const before = (await sk.token.listTokens(org, { includeRevoked: true })).totalCount
      for (const options of [
        { allowedCidrs: [] },
        { allowedCidrs: ['10.0.0.1/8'] },
        { allowedCidrs: ['example.com'] },
        { rateLimit: { limit: 0, windowSeconds: 60 } },
        { rateLimit: { limit: 10, windowSeconds: 86401 } },
        { rateLimit: { limit: 1.5, windowSeconds: 60 } },
        { rateLimit: { limit: -1, windowSeconds: 60 } },
      ]) {
        await rejectsWith(sk.token.createToken(org, options), ScalekitBadRequestException, 'invalid_argument')
      }
      await assert.rejects(sk.token.createToken(org, { allowedCidrs: ['10.0.0.1/8'] }), /10\.0\.0\.0\/8/)
      for (const options of [
        { allowedCidrs: ['10.0.0.0/8'], removeAllowedCidrs: true, description: 'changed?' },
        { rateLimit: { limit: 1, windowSeconds: 1 }, removeRateLimit: true, description: 'changed?' },
        { allowedCidrs: ['bad'], description: 'changed?' },
      ]) {
        await rejectsWith(sk.token.updateToken(rotated.tokenId, options), ScalekitBadRequestException, 'invalid_argument')
      }
      await rejectsWith(sk.token.rotateToken(rotated.tokenId, { rateLimit: { limit: 0, windowSeconds: 1 } }), ScalekitBadRequestException, 'invalid_argument')
      const after = await sk.token.listTokens(org, { includeRevoked: true })
      assert.equal(after.totalCount, before)
      const kept = after.tokens.find((t) => t.tokenId === rotated.tokenId)
      assert.equal(kept.description, undefined)
      assert.deepEqual(kept.rateLimit, { limit: 7, windowSeconds: 10 })
    })

    test('m2m: create, get, update, list, secrets, delete', async () => {
      const created = await sk.m2m.createOrganizationClient(orgId, {
        name: 'GitHub Actions Deployment Service',
        description: 'Deploys to production via GitHub Actions',
        scopes: ['deploy:applications', 'read:deployments'],
        audience: ['deployment-api.acmecorp.com'],
        customClaims: { github_repository: 'acmecorp/inventory-service', environment: 'production_us' },
        expiry: 1800,
      })
      const { client, plainSecret } = created
      assert.match(client.clientId, /^m2morg_/)
      assert.ok(plainSecret.length >= 32)
      assert.equal(client.organizationId, orgId)
      assert.deepEqual(client.scopes, ['deploy:applications', 'read:deployments'])
      assert.deepEqual(client.audience, ['deployment-api.acmecorp.com'])
      assert.deepEqual(
        Object.fromEntries(client.customClaims.map((c) => [c.key, c.value])),
        { github_repository: 'acmecorp/inventory-service', environment: 'production_us' },
      )
      assert.equal(client.expiry, 1800)
      assert.equal(client.secrets.length, 1)
      assert.equal(client.secrets[0].status, ClientSecretStatus.ACTIVE)
      assert.equal(client.secrets[0].secretSuffix, plainSecret.slice(-4))

      const got = await sk.m2m.getOrganizationClient(orgId, client.clientId)
      assert.equal(got.client.name, client.name)

      const updated = await sk.m2m.updateOrganizationClient(orgId, client.clientId, { description: 'updated', scopes: ['deploy:applications'] })
      assert.equal(updated.client.description, 'updated')
      assert.deepEqual(updated.client.scopes, ['deploy:applications'])
      assert.equal(updated.client.name, client.name, 'fields left out keep their value')

      const listed = await sk.m2m.listOrganizationClients(orgId, { pageSize: 10 })
      assert.ok(listed.clients.some((c) => c.clientId === client.clientId))
      assert.ok(listed.totalSize >= 1)

      const added = await sk.m2m.addOrganizationClientSecret(orgId, client.clientId)
      assert.ok(added.plainSecret.length >= 32)
      assert.match(added.secret.id, /^sks_/)
      // Both secrets work at the token endpoint.
      await sk.generateClientToken(client.clientId, plainSecret)
      await sk.generateClientToken(client.clientId, added.plainSecret)

      assert.deepEqual(await sk.m2m.removeOrganizationClientSecret(orgId, client.clientId, added.secret.id), {})
      await rejectsWith(sk.generateClientToken(client.clientId, added.plainSecret), ScalekitUnauthorizedException, 'invalid_client')
      // The last secret cannot be removed.
      await rejectsWith(
        sk.m2m.removeOrganizationClientSecret(orgId, client.clientId, client.secrets[0].id),
        ScalekitBadRequestException,
        'failed_precondition',
      )

      assert.deepEqual(await sk.m2m.deleteOrganizationClient(orgId, client.clientId), {})
      await rejectsWith(sk.m2m.getOrganizationClient(orgId, client.clientId), ScalekitNotFoundException)
      await rejectsWith(sk.generateClientToken(client.clientId, plainSecret), ScalekitUnauthorizedException)
    })

    test('JWT: client credentials, validateToken, validateAccessToken, verifyScopes', async () => {
      const { client, plainSecret } = await sk.m2m.createOrganizationClient(orgId, {
        name: 'svc',
        scopes: ['deployments:read', 'deployments:write'],
        audience: ['deployment-api'],
        customClaims: { env: 'prod' },
      })
      const jwt = await sk.generateClientToken(client.clientId, plainSecret)
      const claims = await sk.validateToken(jwt)
      assert.equal(claims.sub, client.clientId)
      assert.equal(claims.client_id, client.clientId)
      assert.equal(claims.oid, orgId)
      assert.equal(claims.iss, sk.issuer)
      assert.deepEqual(claims.scopes, ['deployments:read', 'deployments:write'])
      assert.deepEqual(claims.aud, ['deployment-api'])
      assert.deepEqual(claims.custom_claims, { env: 'prod' })
      assert.match(claims.jti, /^tkn_/)

      // Options as the official SDK: requiredScopes, audience, issuer.
      await sk.validateToken(jwt, { requiredScopes: ['deployments:read'], audience: ['deployment-api'] })
      await rejectsWith(sk.validateToken(jwt, { requiredScopes: ['admin'] }), ScalekitInsufficientScopeException, 'insufficient_scope')
      await rejectsWith(sk.validateToken(jwt, { requiredScopes: ['admin'] }), ScalekitValidateTokenFailureException, 'insufficient_scope')
      await rejectsWith(sk.validateToken(jwt, { audience: ['other-api'] }), ScalekitValidateTokenFailureException, 'invalid_audience')
      await rejectsWith(sk.validateToken(jwt, { issuer: 'https://elsewhere.example' }), ScalekitValidateTokenFailureException, 'invalid_issuer')
      await rejectsWith(sk.validateToken('not.a.jwt'), ScalekitValidateTokenFailureException, 'token_malformed')

      assert.equal(await sk.validateAccessToken(jwt), true)
      assert.equal(await sk.validateAccessToken(jwt.slice(0, -4) + 'AAAA'), false)
      assert.equal(sk.verifyScopes(jwt, ['deployments:write']), true)
      assert.throws(() => sk.verifyScopes(jwt, ['admin']), (e) => e instanceof ScalekitValidateTokenFailureException && /admin/.test(e.message))

      // Requested scopes narrow the grant; unknown ones are refused.
      const narrow = await sk.generateClientToken(client.clientId, plainSecret, { scopes: ['deployments:read'] })
      assert.deepEqual((await sk.validateToken(narrow)).scopes, ['deployments:read'])
      await rejectsWith(sk.generateClientToken(client.clientId, plainSecret, { scopes: ['admin'] }), ScalekitBadRequestException, 'invalid_scope')
      await rejectsWith(sk.generateClientToken(client.clientId, 'wrong-secret'), ScalekitUnauthorizedException, 'invalid_client')

      // The validator is synchronous once keys are cached.
      const v = sk.jwtValidator()
      assert.equal(v.tryValidate(jwt).sub, client.clientId)
      assert.deepEqual(v.grantedScopes(jwt), ['deployments:read', 'deployments:write'])
      assert.equal(v.status().keyCount >= 1, true)
    })

    test('getClientAccessToken', async () => {
      if (mode === 'remote') {
        const token = await sk.getClientAccessToken()
        assert.equal(token.split('.').length, 3)
      } else {
        await rejectsWith(sk.getClientAccessToken(), ScalekitBadRequestException, 'failed_precondition')
      }
    })

    test('required arguments and bad input are typed errors that change nothing', async () => {
      await rejectsWith(sk.token.createToken(''), ScalekitBadRequestException, 'invalid_argument')
      await assert.rejects(sk.token.createToken(undefined), { message: 'organizationId is required' })
      await assert.rejects(sk.m2m.getOrganizationClient(orgId), { message: 'clientId is required' })
      await assert.rejects(sk.m2m.removeOrganizationClientSecret(orgId, 'm2morg_1'), { message: 'secretId is required' })
      await assert.rejects(sk.user.createUserAndMembership(orgId, {}), { message: 'email is required' })
      await assert.rejects(sk.generateClientToken('', 'x'), { message: 'clientId is required' })
      await rejectsWith(sk.token.createToken(orgId, { expiry: 'tomorrow' }), ScalekitBadRequestException, 'invalid_argument')
      await rejectsWith(sk.token.createToken(orgId, { description: 'x'.repeat(300) }), ScalekitBadRequestException, 'invalid_argument')
      await rejectsWith(sk.token.createToken('org_999999'), ScalekitNotFoundException, 'not_found')
      await rejectsWith(sk.m2m.createOrganizationClient(orgId, {}), ScalekitBadRequestException, 'invalid_argument')
      const before = await sk.token.listTokens(orgId, { pageSize: 30 })
      await rejectsWith(sk.token.createToken(orgId, { userId: 'usr_404' }), ScalekitServerException)
      const after = await sk.token.listTokens(orgId, { pageSize: 30 })
      assert.equal(after.totalCount, before.totalCount)
    })
  })
}

describe('remote client failures', () => {
  test('wrong environment credentials: Unauthorized; unreachable server: ServiceUnavailable', async () => {
    const server = await startServer()
    try {
      const bad = new ScalekitClient(server.url, server.clientId, 'not-the-secret')
      await assert.rejects(bad.organization.listOrganization(), (e) => e instanceof ScalekitUnauthorizedException)
    } finally {
      await server.stop()
    }
    const down = new ScalekitClient(server.url, server.clientId, server.clientSecret, { timeout: 2, retries: 0 })
    await assert.rejects(down.token.validateToken('agk_x'), (e) => e instanceof ScalekitServiceUnavailableException || e instanceof ScalekitServerException)
  })

  test('ClientCredentials: cached token, refresh after invalidate, typed failures', async () => {
    const server = await startServer()
    try {
      const sk = new ScalekitClient(server.url, server.clientId, server.clientSecret)
      const { organization } = await sk.organization.createOrganization('Callers')
      const { client, plainSecret } = await sk.m2m.createOrganizationClient(organization.id, { name: 'caller', scopes: ['a:read', 'a:write'] })
      const cc = new ClientCredentials({ envUrl: server.url, clientId: client.clientId, clientSecret: plainSecret, scopes: ['a:read'] })
      assert.equal(cc.cached(), undefined)
      const [t1, t2] = await Promise.all([cc.getToken(), cc.getToken()])
      assert.equal(t1, t2, 'concurrent callers share one fetch')
      const info = await cc.getTokenInfo()
      assert.equal(info.accessToken, t1)
      assert.equal(info.tokenType, 'Bearer')
      assert.equal(info.scope, 'a:read')
      assert.ok(info.expiresAt instanceof Date && info.expiresAt > new Date())
      assert.ok(info.expiresIn > 0 && info.expiresIn <= 3600)
      assert.equal(cc.cached().accessToken, t1)
      assert.equal(await cc.authorizationHeader(), `Bearer ${t1}`)
      assert.deepEqual((await sk.validateToken(t1)).scopes, ['a:read'])
      cc.invalidate()
      assert.equal(cc.cached(), undefined)
      await cc.getToken()

      const wrong = new ClientCredentials({ tokenUrl: `${server.url}/oauth/token`, clientId: client.clientId, clientSecret: 'wrong' })
      await assert.rejects(wrong.getToken(), (e) => e instanceof ScalekitUnauthorizedException && e.code === 'invalid_client')
      assert.throws(() => new ClientCredentials({ clientId: 'x', clientSecret: 'y' }), (e) => e instanceof ScalekitBadRequestException)
      assert.throws(() => new ClientCredentials({ envUrl: 'http://auth.example.com', clientId: 'x', clientSecret: 'y' }), (e) => e instanceof ScalekitBadRequestException)
      assert.throws(() => new ClientCredentials({ envUrl: server.url, clientId: 'x' }), { message: 'clientSecret is required' })
    } finally {
      await server.stop()
    }
  })

  test('constructor arguments are checked like the official SDK', () => {
    assert.throws(() => new ScalekitClient('', 'id', 'secret'), { message: 'envUrl is required' })
    assert.throws(() => new ScalekitClient('http://127.0.0.1:1', '', 'secret'), { message: 'clientId is required' })
    assert.throws(() => new ScalekitClient('http://127.0.0.1:1', 'id', ''), { message: 'clientSecret is required' })
    assert.throws(() => new ScalekitClient('ftp://x', 'id', 'secret'), (e) => e instanceof ScalekitBadRequestException)
    assert.throws(() => new ScalekitClient('http://auth.example.com', 'id', 'secret'), (e) => e instanceof ScalekitBadRequestException)
  })
})

describe('embedded client and the master key file', () => {
  test('opens a store a server created and encrypted (same key file), issues and validates a token', async () => {
    const server = await startServer()
    try {
      const remote = new ScalekitClient(server.url, server.clientId, server.clientSecret)
      const { organization } = await remote.organization.createOrganization('Shared', { externalId: `shared-${RUN}` })
      const { client, plainSecret } = await remote.m2m.createOrganizationClient(organization.id, { name: 'svc', scopes: ['a'] })
      await remote.generateClientToken(client.clientId, plainSecret)
      const keyFile = `${server.database}.master-key`
      assert.equal(statSync(keyFile).mode & 0o777, 0o600)
      const key = readFileSync(keyFile, 'utf8')

      const local = ScalekitClient.local(`sqlite://${server.database}`, { issuer: LOCAL_ISSUER })
      const jwt = await local.generateClientToken(client.clientId, plainSecret)
      assert.equal(await local.validateAccessToken(jwt), true)
      assert.equal(readFileSync(keyFile, 'utf8'), key)
    } finally {
      await server.stop()
    }
  })

  test('a key file others can read is refused with a typed error, and no store is created', () => {
    const tmp = tempDir()
    try {
      const db = join(tmp.dir, 'open.db')
      writeFileSync(`${db}.master-key`, 'k'.repeat(44))
      chmodSync(`${db}.master-key`, 0o644)
      assert.throws(
        () => ScalekitClient.local(`sqlite://${db}`),
        (e) => e instanceof ScalekitBadRequestException && e.code === 'failed_precondition' && /chmod 600/.test(e.message),
      )
      assert.equal(existsSync(db), false)
    } finally {
      tmp.cleanup()
    }
  })
})
