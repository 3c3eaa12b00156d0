// The Node samples of the seed document (shared/seed/adding-api-auth.txt), verbatim except for the
// import ('@scalekit-sdk/node' → 'authgate'), against the real `authgate serve`.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'

import { ScalekitClient } from 'authgate'
import { ScalekitValidateTokenFailureException } from 'authgate'
import { startServer, listen, require } from './helpers.mjs'

let server
let scalekit
let organizationId

before(async () => {
  server = await startServer()
  process.env.SCALEKIT_ENVIRONMENT_URL = server.url
  process.env.SCALEKIT_CLIENT_ID = server.clientId
  process.env.SCALEKIT_CLIENT_SECRET = server.clientSecret

  // --- seed: client ---
  scalekit = new ScalekitClient(
  process.env.SCALEKIT_ENVIRONMENT_URL,
  process.env.SCALEKIT_CLIENT_ID,
  process.env.SCALEKIT_CLIENT_SECRET
  );
  // ---

  organizationId = (await scalekit.organization.createOrganization('Seed Org')).organization.id
})

after(async () => {
  await server.stop()
})

test('seed: create, validate, list, invalidate', async () => {
  // --- seed: organization-scoped key ---
  const response = await scalekit.token.createToken(organizationId, {
  description: 'CI/CD pipeline token',
  });
  const opaqueToken = response.token;
  const tokenId = response.tokenId;
  // ---
  assert.match(tokenId, /^apit_/)

  const { user } = await scalekit.user.createUserAndMembership(organizationId, { email: `usr-${Date.now()}@example.com` })
  // --- seed: user-scoped key (userId from the membership above instead of 'usr_12345') ---
  const userResponse = await scalekit.token.createToken(organizationId, {
  userId: user.id,
  customClaims: { team: 'engineering', environment: 'production' },
  description: 'Deployment service token',
  });
  // ---
  assert.equal(userResponse.tokenInfo.userId, user.id)

  // --- seed: validate ---
  let seen
  try {
  const result = await scalekit.token.validateToken(opaqueToken);
  const { organizationId, userId, customClaims, roles, organizationExternalId } = result.tokenInfo;
  seen = { organizationId, userId, customClaims, roles, organizationExternalId }
  } catch (error) {
  if (error instanceof ScalekitValidateTokenFailureException) return assert.fail('401');
  throw error;
  }
  // ---
  assert.equal(seen.organizationId, organizationId)

  // More keys than a page, so that the sample's next-page branch runs.
  for (let i = 0; i < 10; i++) await scalekit.token.createToken(organizationId, { description: `filler ${i}` })
  let secondPage
  // --- seed: list ---
  const listed = await scalekit.token.listTokens(organizationId, { pageSize: 10 });
  if (listed.nextPageToken) {
  const next = await scalekit.token.listTokens(organizationId, {
  pageSize: 10, pageToken: listed.nextPageToken
  });
  secondPage = next
  }
  const userTokens = await scalekit.token.listTokens(organizationId, { userId: user.id });
  // ---
  assert.equal(listed.tokens.length, 10)
  assert.notEqual(listed.nextPageToken, '', '12 keys, pages of 10: there is a second page')
  assert.equal(secondPage.tokens.length, 2)
  assert.equal(secondPage.nextPageToken, '')
  assert.deepEqual(
    [...listed.tokens, ...secondPage.tokens].map((t) => t.description),
    ['CI/CD pipeline token', 'Deployment service token', ...Array.from({ length: 10 }, (_, i) => `filler ${i}`)],
  )
  assert.equal(userTokens.tokens.length, 1)

  // --- seed: invalidate ---
  await scalekit.token.invalidateToken(opaqueToken); // or tokenId
  // ---
  await assert.rejects(scalekit.token.validateToken(opaqueToken), ScalekitValidateTokenFailureException)
})

test('seed: the hand-written Express middleware', async () => {
  const express = require('express')
  const app = express()

  // --- seed: Express middleware ---
  async function authenticateToken(req, res, next) {
  const token = (req.headers.authorization || '').replace('Bearer ', '');
  if (!token) return res.status(401).json({ error: 'Missing authorization token' });
  try {
  const result = await scalekit.token.validateToken(token);
  req.tokenInfo = result.tokenInfo;
  next();
  } catch (error) {
  if (error instanceof ScalekitValidateTokenFailureException)
  return res.status(401).json({ error: 'Invalid or expired token' });
  throw error;
  }
  }
  app.get('/api/resources', authenticateToken, (req, res) => {
  const { organizationId, userId } = req.tokenInfo;
  // ---
    res.json({ organizationId, userId: userId || null })
  })

  const http = await listen(app)
  try {
    const { token } = await scalekit.token.createToken(organizationId)
    let res = await fetch(`${http.url}/api/resources`, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { organizationId, userId: null })
    res = await fetch(`${http.url}/api/resources`, { headers: { authorization: 'Bearer nope' } })
    assert.equal(res.status, 401)
    res = await fetch(`${http.url}/api/resources`)
    assert.equal(res.status, 401)
  } finally {
    await http.close()
  }
})

test('seed: client credentials, then scalekit.validateToken with requiredScopes', async () => {
  const { client, plainSecret } = await scalekit.m2m.createOrganizationClient(organizationId, {
    name: 'GitHub Actions Deployment Service',
    scopes: ['deploy:applications', 'read:deployments'],
  })
  const token = await scalekit.generateClientToken(client.clientId, plainSecret)
  const claims = await scalekit.validateToken(token, { requiredScopes: ['deploy:applications'] })
  assert.deepEqual(claims.scopes, ['deploy:applications', 'read:deployments'])
  assert.equal(claims.oid, organizationId)
})
