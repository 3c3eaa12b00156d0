// The official Scalekit Node SDK (@scalekit-sdk/node 2.11.0), unmodified, against one real
// `authgate serve` listening with TLS and plaintext on the same port (--tls-allow-plaintext):
// the SDK over h2c (http:// URL) and over TLS (https:// URL, CA from `authgate dev-cert` in
// NODE_EXTRA_CA_CERTS, which Node reads at start-up — hence the child process for TLS).
//
// AUTHGATE_BIN names the binary. Run: node --test sdk.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'

const BIN = process.env.AUTHGATE_BIN
const HERE = dirname(fileURLToPath(import.meta.url))
const MODE = process.env.AUTHGATE_SDK_MODE // set in the TLS child

let server
let dir
// The TLS child gets the parent's credentials.
const clientId = process.env.AUTHGATE_SDK_CLIENT_ID ?? `skc_${randomBytes(8).toString('hex')}`
const clientSecret = process.env.AUTHGATE_SDK_CLIENT_SECRET ?? randomBytes(24).toString('hex')

function startServer () {
  dir = mkdtempSync(join(tmpdir(), 'authgate-sdk-node-'))
  const cert = spawnSync(BIN, ['dev-cert', '--out', dir], { encoding: 'utf8' })
  assert.equal(cert.status, 0, cert.stderr)
  const child = spawn(BIN, [
    'serve', '--database', `sqlite://${dir}/authgate.db`, '--listen', '127.0.0.1:0',
    '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem'), '--tls-allow-plaintext'
  ], {
    env: { ...process.env, AUTHGATE_CLIENT_ID: clientId, AUTHGATE_CLIENT_SECRET: clientSecret, AUTHGATE_LOG: 'info' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d })
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 60_000)
    child.stdout.on('data', (d) => {
      out += d
      const m = /authgate listening on https:\/\/(\S+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve({ child, addr: m[1], ca: join(dir, 'ca.pem') })
      }
    })
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${stderr}`)))
  })
}

async function metric (base, name) {
  const text = await (await fetch(`${base}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(name + ' '))
  return line ? Number(line.split(' ').pop()) : 0
}

// The flows, run once per transport.
async function flows (envUrl, plainUrl) {
  const {
    ScalekitClient, ScalekitValidateTokenFailureException, ScalekitNotFoundException, ScalekitServerException,
    ScalekitBadRequestException, ScalekitConflictException
  } = await import('@scalekit-sdk/node')
  const sc = new ScalekitClient(envUrl, clientId, clientSecret)

  // organizations
  const ext = `ext-${randomBytes(4).toString('hex')}`
  const { organization: org } = await sc.organization.createOrganization('Acme Node', { externalId: ext })
  assert.match(org.id, /^org_/)
  assert.equal((await sc.organization.getOrganization(org.id)).organization.displayName, 'Acme Node')
  assert.equal((await sc.organization.getOrganizationByExternalId(ext)).organization.id, org.id)
  const listed = await sc.organization.listOrganization({ pageSize: 100 })
  assert.ok(listed.organizations.some((o) => o.id === org.id))
  const { organization: doomed } = await sc.organization.createOrganization('Doomed')
  await sc.organization.deleteOrganization(doomed.id)
  await assert.rejects(sc.organization.getOrganization(doomed.id), ScalekitNotFoundException)
  // update (no update mask: the fields present are the update), by id and by external id
  const renamed = await sc.organization.updateOrganization(org.id, { displayName: 'Acme Node 2' })
  assert.equal(renamed.organization.displayName, 'Acme Node 2')
  assert.equal(renamed.organization.externalId, ext)
  const ext2 = `ext-${randomBytes(4).toString('hex')}`
  const moved = await sc.organization.updateOrganizationByExternalId(ext, { externalId: ext2 })
  assert.equal(moved.organization.id, org.id)
  assert.equal(moved.organization.externalId, ext2)
  assert.equal((await sc.organization.getOrganizationByExternalId(ext2)).organization.displayName, 'Acme Node 2')
  await assert.rejects(sc.organization.updateOrganization(org.id, {}), ScalekitBadRequestException)
  await assert.rejects(sc.organization.updateOrganization('org_404404', { displayName: 'x' }), ScalekitNotFoundException)

  // users
  const tag = randomBytes(4).toString('hex')
  const email = `grace-${tag}@example.com`
  const { user } = await sc.user.createUserAndMembership(org.id, {
    email, externalId: `grace-${tag}`, sendInvitationEmail: false
  })
  assert.match(user.id, /^usr_/)
  const members = await sc.user.listOrganizationUsers(org.id, { pageSize: 10 })
  assert.ok(members.users.some((u) => u.id === user.id))
  assert.equal((await sc.user.getUser(user.id)).user.email, email)
  assert.equal((await sc.user.getUserByExternalId(`grace-${tag}`)).user.id, user.id)
  const everyone = await sc.user.listUsers({ pageSize: 100 })
  assert.ok(everyone.users.some((u) => u.id === user.id))
  const updatedUser = await sc.user.updateUser(user.id, { externalId: `grace-${tag}-2` })
  assert.equal(updatedUser.user.externalId, `grace-${tag}-2`)
  assert.equal((await sc.user.updateUser(user.id, { externalId: `grace-${tag}` })).user.externalId, `grace-${tag}`)
  // The SDK's updateUserByExternalId sends only the profile and metadata (it drops externalId),
  // which authgate does not store: an empty update, refused.
  await assert.rejects(sc.user.updateUserByExternalId(`grace-${tag}`, { externalId: 'x' }), ScalekitBadRequestException)
  await assert.rejects(sc.user.getUser('usr_404404'), ScalekitNotFoundException)
  // memberships: in a second organization, with the user's key there going with it
  const { organization: org2 } = await sc.organization.createOrganization('Second')
  const joined = await sc.user.createMembership(org2.id, user.id, { roles: ['admin'], sendInvitationEmail: false })
  assert.ok(joined.user.memberships.some((m) => m.organizationId === org2.id))
  await assert.rejects(sc.user.createMembership(org2.id, user.id, { roles: ['admin'] }), ScalekitConflictException)
  const key2 = await sc.token.createToken(org2.id, { userId: user.id })
  assert.deepEqual((await sc.token.validateToken(key2.token)).tokenInfo.roles, ['admin'])
  await sc.user.updateMembership(org2.id, user.id, { roles: ['owner'] })
  assert.deepEqual((await sc.token.validateToken(key2.token)).tokenInfo.roles, ['owner'])
  await sc.user.deleteMembership(org2.id, user.id)
  await assert.rejects(sc.token.validateToken(key2.token), ScalekitValidateTokenFailureException)
  await sc.user.createMembershipByExternalId(org2.id, `grace-${tag}`, { roles: [] })
  await sc.user.updateMembershipByExternalId(org2.id, `grace-${tag}`, { roles: ['viewer'] })
  await sc.user.deleteMembershipByExternalId(org2.id, `grace-${tag}`)
  await assert.rejects(sc.user.deleteMembership(org2.id, user.id), ScalekitNotFoundException)
  // delete: the user goes, with their memberships and keys
  const { user: doomedUser } = await sc.user.createUserAndMembership(org.id, { email: `gone-${tag}@example.com`, sendInvitationEmail: false })
  const doomedKey = await sc.token.createToken(org.id, { userId: doomedUser.id })
  await sc.user.deleteUser(doomedUser.id)
  await assert.rejects(sc.token.validateToken(doomedKey.token), ScalekitValidateTokenFailureException)
  await assert.rejects(sc.user.getUser(doomedUser.id), ScalekitNotFoundException)
  const { user: goneByExt } = await sc.user.createUserAndMembership(org.id, { email: `gone2-${tag}@example.com`, externalId: `gone2-${tag}`, sendInvitationEmail: false })
  await sc.user.deleteUserByExternalId(`gone2-${tag}`)
  await assert.rejects(sc.user.getUser(goneByExt.id), ScalekitNotFoundException)

  // API keys
  const expiry = { seconds: BigInt(Math.floor(Date.now() / 1000) + 3600), nanos: 0 }
  const orgKey = await sc.token.createToken(org.id, { customClaims: { env: 'test' }, expiry, description: 'org key' })
  assert.match(orgKey.tokenId, /^apit_/)
  assert.equal(orgKey.tokenInfo.customClaims.env, 'test')
  const userKey = await sc.token.createToken(org.id, { userId: user.id })
  assert.equal(userKey.tokenInfo.userId, user.id)
  assert.equal((await sc.token.validateToken(orgKey.token)).tokenInfo.tokenId, orgKey.tokenId)
  // by id, as Scalekit's ValidateToken accepts (an admin lookup on the server)
  const byId = await sc.token.validateToken(orgKey.tokenId)
  assert.equal(byId.tokenInfo.tokenId, orgKey.tokenId)
  assert.equal(byId.tokenInfo.description, 'org key')
  for (let i = 0; i < 3; i++) await sc.token.createToken(org.id, { description: `page ${i}` })
  const first = await sc.token.listTokens(org.id, { pageSize: 2 })
  assert.equal(first.tokens.length, 2)
  assert.equal(first.totalCount, 5)
  const second = await sc.token.listTokens(org.id, { pageSize: 2, pageToken: first.nextPageToken })
  assert.ok(second.tokens.every((t) => !first.tokens.some((f) => f.tokenId === t.tokenId)))
  const onlyUser = await sc.token.listTokens(org.id, { userId: user.id })
  assert.deepEqual(onlyUser.tokens.map((t) => t.tokenId), [userKey.tokenId])
  const updated = await sc.token.updateToken(orgKey.tokenId, { customClaims: { env: 'prod' }, description: 'renamed' })
  assert.equal(updated.tokenInfo.customClaims.env, 'prod')
  assert.equal(updated.tokenInfo.description, 'renamed')
  await sc.token.invalidateToken(orgKey.tokenId)
  await sc.token.invalidateToken(orgKey.tokenId) // idempotent
  const issued = await metric(plainUrl, 'authgate_token_requests_total{outcome="issued"}')
  const refused = await metric(plainUrl, 'authgate_api_key_validations_total{outcome="invalid"}')
  const started = performance.now()
  await assert.rejects(sc.token.validateToken(orgKey.token), ScalekitValidateTokenFailureException)
  console.log(`refused key: ScalekitValidateTokenFailureException in ${(performance.now() - started).toFixed(1)} ms`)
  assert.equal(await metric(plainUrl, 'authgate_api_key_validations_total{outcome="invalid"}'), refused + 1)
  assert.equal(await metric(plainUrl, 'authgate_token_requests_total{outcome="issued"}'), issued)
  // the revoked key's id is refused too
  await assert.rejects(sc.token.validateToken(orgKey.tokenId), ScalekitValidateTokenFailureException)

  // M2M clients
  const created = await sc.m2m.createOrganizationClient(org.id, { name: 'billing', scopes: ['read:invoices'] })
  const client = created.client
  assert.match(client.clientId, /^m2morg_/)
  assert.equal((await sc.m2m.getOrganizationClient(org.id, client.clientId)).client.name, 'billing')
  assert.ok((await sc.m2m.listOrganizationClients(org.id)).clients.some((c) => c.clientId === client.clientId))
  const upd = await sc.m2m.updateOrganizationClient(org.id, client.clientId, { description: 'nightly' })
  assert.equal(upd.client.description, 'nightly')
  const added = await sc.m2m.addOrganizationClientSecret(org.id, client.clientId)
  await sc.m2m.removeOrganizationClientSecret(org.id, client.clientId, client.secrets[0].id)
  await assert.rejects(
    sc.m2m.removeOrganizationClientSecret(org.id, client.clientId, added.secret.id),
    ScalekitServerException
  )
  const token = await sc.generateClientToken(client.clientId, added.plainSecret)
  const claims = await sc.validateToken(token, { issuer: envUrl.replace('http://', 'https://'), requiredScopes: ['read:invoices'] })
  assert.ok(claims.sub === client.clientId || claims.client_id === client.clientId)
  assert.equal(await sc.validateAccessToken(token), true)
  await assert.rejects(sc.validateToken(token, { requiredScopes: ['admin:all'] }))
  await sc.m2m.deleteOrganizationClient(org.id, client.clientId)
  await assert.rejects(sc.m2m.getOrganizationClient(org.id, client.clientId), ScalekitServerException)
}

if (MODE === 'tls') {
  // Child: NODE_EXTRA_CA_CERTS is set; the server is the parent's.
  test('Node SDK over TLS (https://, NODE_EXTRA_CA_CERTS)', async () => {
    const addr = process.env.AUTHGATE_SDK_ADDR
    await flows(`https://${addr}`, `http://${addr}`)
  })
} else {
  before(async () => { server = await startServer() })
  after(() => {
    server?.child.kill('SIGTERM')
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  test('Node SDK over h2c (http://)', async () => {
    await flows(`http://${server.addr}`, `http://${server.addr}`)
  })

  test('Node SDK over TLS (https://, NODE_EXTRA_CA_CERTS)', () => {
    // A plain `node` run of this file (node:test reports in TAP on its own); the test runner's
    // context variable must not leak into it.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env
    const run = spawnSync(process.execPath, [join(HERE, 'sdk.test.mjs')], {
      env: { ...env, AUTHGATE_SDK_MODE: 'tls',
        AUTHGATE_SDK_ADDR: server.addr,
        AUTHGATE_SDK_CLIENT_ID: clientId,
        AUTHGATE_SDK_CLIENT_SECRET: clientSecret,
        NODE_EXTRA_CA_CERTS: server.ca
      },
      encoding: 'utf8',
      cwd: HERE
    })
    assert.equal(run.status, 0, run.stdout + run.stderr)
    assert.match(run.stdout, /# pass 1/, run.stdout)
    console.log(run.stdout.split("\n").filter((l) => l.startsWith("# refused")).join("\n"))
  })
}
