// A failure test for every public method of the package, asserting the exact error code and that
// the store did not change (remote, embedded on SQLite, embedded on PostgreSQL); and the check
// that tests/OPERATIONS.md has a row for every public method, read from the classes' prototypes,
// never from a hand-kept list.
import { describe, it, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createServer } from 'node:net'

import {
  ScalekitClient,
  JwtValidator,
  ClientCredentials,
  ScalekitException,
  ScalekitValidateTokenFailureException,
  ScalekitBadRequestException,
  ScalekitNotFoundException,
  ScalekitConflictException,
  ScalekitUnauthorizedException,
  ScalekitKeysUnavailableException,
} from 'authgate'
import { startServer, tempDir, repoDir, POSTGRES_URL, NEEDS_POSTGRES, createPostgresDatabase } from './helpers.mjs'

const LOCAL_ISSUER = 'http://authgate.test'

/** The public methods of a prototype (not getters, not the constructor). */
function methods(proto) {
  return Object.getOwnPropertyNames(proto).filter((name) => {
    if (name === 'constructor' || name.startsWith('_')) return false
    const d = Object.getOwnPropertyDescriptor(proto, name)
    return typeof d.value === 'function'
  })
}

/** Every public operation, as `Class.method`, from the real classes. */
function operations() {
  const sk = ScalekitClient.local(`sqlite://${join(tempDir().dir, 'ops.db')}`)
  const classes = {
    ScalekitClient: ScalekitClient.prototype,
    TokenClient: Object.getPrototypeOf(sk.token),
    M2MClient: Object.getPrototypeOf(sk.m2m),
    OrganizationClient: Object.getPrototypeOf(sk.organization),
    UserClient: Object.getPrototypeOf(sk.user),
    AuditClient: Object.getPrototypeOf(sk.audit),
    JwtValidator: JwtValidator.prototype,
    ClientCredentials: ClientCredentials.prototype,
  }
  const ops = new Set()
  for (const [name, proto] of Object.entries(classes)) for (const m of methods(proto)) ops.add(`${name}.${m}`)
  for (const name of Object.getOwnPropertyNames(ScalekitClient)) {
    if (typeof ScalekitClient[name] === 'function' && !['length', 'name', 'prototype'].includes(name)) ops.add(`ScalekitClient.${name}`)
  }
  return ops
}

function table(section) {
  const rows = new Map()
  let inside = false
  for (const line of readFileSync(join(repoDir, 'tests', 'OPERATIONS.md'), 'utf8').split('\n')) {
    if (line.startsWith('## ')) {
      inside = line.slice(3).trim() === section
      continue
    }
    if (!inside || !line.startsWith('|') || line.startsWith('|---') || line.startsWith('| operation')) continue
    const cells = line.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim())
    assert.equal(cells.length, 3, line)
    rows.set(cells[0].replace(/`/g, ''), [cells[1], cells[2]])
  }
  return rows
}

test('every public method has its row in the operations table', () => {
  const ops = operations()
  for (const known of ['ScalekitClient.local', 'TokenClient.invalidateToken', 'JwtValidator.refresh', 'JwtValidator.clearTokenCache']) {
    assert.ok(ops.has(known), `${known} not enumerated: ${[...ops]}`)
  }
  const rows = table('Node package')
  const missing = [...ops].filter((op) => !rows.has(op)).sort()
  const extra = [...rows.keys()].filter((op) => !ops.has(op)).sort()
  assert.deepEqual(missing, [], 'public methods without a row in tests/OPERATIONS.md')
  assert.deepEqual(extra, [], 'rows in tests/OPERATIONS.md for methods that do not exist')
  for (const [op, cells] of rows) {
    cells.forEach((cell, i) => {
      if (i === 1 && cell.startsWith('n/a: ')) return
      const refs = cell.split('<br>').map((r) => r.trim().replace(/^`|`$/g, '')).filter(Boolean)
      assert.ok(refs.length > 0, `${op}: no ${i ? 'failure' : 'success'} test`)
      for (const ref of refs) {
        const [path, name] = ref.split('::')
        assert.ok(path.startsWith('bindings-node/test/'), `${op}: ${ref}`)
        const title = name.replace(/^"|"$/g, '')
        const text = readFileSync(join(repoDir, path), 'utf8')
        assert.ok(text.includes(`'${title}'`) || text.includes(`\`${title}\``), `${op}: no test ${ref}`)
      }
    })
  }
})

// --- failure tests --------------------------------------------------------------------------

// Bookkeeping columns: the last use of keys and secrets is written off the request path, up to a
// few seconds after validations and grants of earlier tests, so it may land during any test. It is
// not state an operation changes.
const BOOKKEEPING = new Set(['last_used_time'])

function sqliteSnapshot(file) {
  // Every table's rows without the bookkeeping columns, in a fixed order.
  const dump = `
import sqlite3, sys
skip = set(sys.argv[2].split(","))
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
    cols = ", ".join(f'"{r[1]}"' for r in db.execute(f'PRAGMA table_info("{table}")') if r[1] not in skip)
    print(table, cols, db.execute(f'SELECT {cols} FROM "{table}" ORDER BY {cols}').fetchall())
`
  return () => execFileSync('python3', ['-c', dump, file, [...BOOKKEEPING].join(',')], { encoding: 'utf8' })
}

function postgresSnapshot(url) {
  const exe = process.env.AUTHGATE_TEST_PG_BIN ? join(process.env.AUTHGATE_TEST_PG_BIN, 'pg_dump') : 'pg_dump'
  return () => {
    const out = []
    let rows = null // the rows of the COPY block being read
    let blank = [] // its bookkeeping columns
    const dump = execFileSync(exe, ['--data-only', '--no-comments', '-d', url], { encoding: 'utf8' })
    for (const line of dump.split('\n')) {
      // pg_dump brackets its output with a random \\restrict key: not data.
      if (line.startsWith('\\restrict') || line.startsWith('\\unrestrict')) continue
      const header = line.match(/^COPY \S+ \((.*)\) FROM stdin;$/)
      if (header) {
        blank = header[1].split(',').map((c) => c.trim().replace(/"/g, '')).flatMap((c, i) => (BOOKKEEPING.has(c) ? [i] : []))
        out.push(line)
        rows = []
      } else if (line === '\\.' && rows !== null) {
        // Sorted: an update moves a row in the heap, and pg_dump writes heap order.
        out.push(...rows.sort(), line)
        rows = null
      } else if (rows !== null) {
        rows.push(line.split('\t').map((f, i) => (blank.includes(i) ? '-' : f)).join('\t'))
      } else {
        out.push(line)
      }
    }
    return out.join('\n')
  }
}

function freePort() {
  return new Promise((resolvePort) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolvePort(port))
    })
  })
}

async function rejectsWith(promise, Class, code, what) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof Class, `${what}: expected ${Class.name}, got ${err && err.constructor.name}: ${err && err.message}`)
    assert.ok(err instanceof ScalekitException, what)
    assert.equal(err.code, code, `${what}: ${err.message}`)
    return true
  })
}

// operation → [the failing call, the exception class, its exact code]
const FAILURES = {
  'AuditClient.listEvents': [(sk, i) => sk.audit.listEvents({ organizationId: i.org, action: 'api_key.explode' }), ScalekitBadRequestException, 'invalid_argument'],
  'TokenClient.createToken': [(sk) => sk.token.createToken('org_404404'), ScalekitNotFoundException, 'not_found'],
  'TokenClient.validateToken': [(sk) => sk.token.validateToken('agk_not-a-key'), ScalekitValidateTokenFailureException, 'token_validation_failed'],
  'TokenClient.listTokens': [(sk, i) => sk.token.listTokens(i.org, { pageSize: 31 }), ScalekitBadRequestException, 'invalid_argument'],
  'TokenClient.invalidateToken': [(sk) => sk.token.invalidateToken('apit_404404'), ScalekitNotFoundException, 'not_found'],
  'TokenClient.updateToken': [(sk) => sk.token.updateToken('apit_404404', { description: 'x' }), ScalekitNotFoundException, 'not_found'],
  'TokenClient.rotateToken': [(sk) => sk.token.rotateToken('apit_404404'), ScalekitNotFoundException, 'not_found'],
  'M2MClient.createOrganizationClient': [(sk) => sk.m2m.createOrganizationClient('org_404404', { name: 'x' }), ScalekitNotFoundException, 'not_found'],
  'M2MClient.getOrganizationClient': [(sk, i) => sk.m2m.getOrganizationClient(i.org, 'm2morg_404404'), ScalekitNotFoundException, 'not_found'],
  'M2MClient.updateOrganizationClient': [(sk, i) => sk.m2m.updateOrganizationClient(i.org, 'm2morg_404404', { description: 'x' }), ScalekitNotFoundException, 'not_found'],
  'M2MClient.deleteOrganizationClient': [(sk, i) => sk.m2m.deleteOrganizationClient(i.org, 'm2morg_404404'), ScalekitNotFoundException, 'not_found'],
  'M2MClient.listOrganizationClients': [(sk, i) => sk.m2m.listOrganizationClients(i.org, { pageSize: 5 }), ScalekitBadRequestException, 'invalid_argument'],
  'M2MClient.addOrganizationClientSecret': [(sk, i) => sk.m2m.addOrganizationClientSecret(i.org, 'm2morg_404404'), ScalekitNotFoundException, 'not_found'],
  'M2MClient.removeOrganizationClientSecret': [(sk, i) => sk.m2m.removeOrganizationClientSecret(i.org, i.clientId, 'sks_404404'), ScalekitNotFoundException, 'not_found'],
  'OrganizationClient.createOrganization': [(sk) => sk.organization.createOrganization(''), ScalekitBadRequestException, 'invalid_argument'],
  'OrganizationClient.getOrganization': [(sk) => sk.organization.getOrganization('org_404404'), ScalekitNotFoundException, 'not_found'],
  'OrganizationClient.listOrganization': [(sk) => sk.organization.listOrganization({ pageSize: 1000 }), ScalekitBadRequestException, 'invalid_argument'],
  'OrganizationClient.deleteOrganization': [(sk) => sk.organization.deleteOrganization('org_404404'), ScalekitNotFoundException, 'not_found'],
  'UserClient.createUserAndMembership': [(sk) => sk.user.createUserAndMembership('org_404404', { email: 'a@b.test' }), ScalekitNotFoundException, 'not_found'],
  'OrganizationClient.updateOrganization': [(sk, i) => sk.organization.updateOrganization(i.org, {}), ScalekitBadRequestException, 'invalid_argument'],
  'UserClient.getUser': [(sk) => sk.user.getUser('usr_404404'), ScalekitNotFoundException, 'not_found'],
  'UserClient.getUserByExternalId': [(sk) => sk.user.getUserByExternalId('nobody'), ScalekitNotFoundException, 'not_found'],
  'UserClient.listUsers': [(sk) => sk.user.listUsers({ pageSize: 1000 }), ScalekitBadRequestException, 'invalid_argument'],
  'UserClient.listOrganizationUsers': [(sk) => sk.user.listOrganizationUsers('org_404404'), ScalekitNotFoundException, 'not_found'],
  'UserClient.updateUser': [(sk) => sk.user.updateUser('usr_404404', { externalId: 'x' }), ScalekitNotFoundException, 'not_found'],
  'UserClient.updateUserByExternalId': [(sk, i) => sk.user.updateUserByExternalId(i.userExternalId, {}), ScalekitBadRequestException, 'invalid_argument'],
  'UserClient.deleteUser': [(sk, i) => sk.user.deleteUser(i.org), ScalekitBadRequestException, 'invalid_argument'],
  'UserClient.deleteUserByExternalId': [(sk) => sk.user.deleteUserByExternalId('nobody'), ScalekitNotFoundException, 'not_found'],
  'UserClient.createMembership': [(sk, i) => sk.user.createMembership(i.org, i.userId, { roles: ['admin'] }), ScalekitConflictException, 'already_exists'],
  'UserClient.createMembershipByExternalId': [(sk, i) => sk.user.createMembershipByExternalId('org_404404', i.userExternalId), ScalekitNotFoundException, 'not_found'],
  'UserClient.updateMembership': [(sk, i) => sk.user.updateMembership('org_404404', i.userId, { roles: ['x'] }), ScalekitNotFoundException, 'not_found'],
  'UserClient.updateMembershipByExternalId': [(sk, i) => sk.user.updateMembershipByExternalId(i.org, i.userExternalId, { roles: ['has space'] }), ScalekitBadRequestException, 'invalid_argument'],
  'UserClient.deleteMembership': [(sk, i) => sk.user.deleteMembership('org_404404', i.userId), ScalekitNotFoundException, 'not_found'],
  'UserClient.deleteMembershipByExternalId': [(sk, i) => sk.user.deleteMembershipByExternalId(i.org, 'nobody'), ScalekitNotFoundException, 'not_found'],
  'ScalekitClient.validateToken': [(sk) => sk.validateToken('not.a.jwt'), ScalekitValidateTokenFailureException, 'token_malformed'],
  'ScalekitClient.generateClientToken': [(sk, i) => sk.generateClientToken(i.clientId, 'wrong-secret'), ScalekitUnauthorizedException, 'invalid_client'],
}

for (const mode of ['remote', 'local', 'postgres']) {
  describe(`failures change nothing (${mode})`, () => {
    // Without PostgreSQL each test of the PostgreSQL run is reported as skipped (counted in the
    // summary), and the hooks do nothing.
    const skip = mode === 'postgres' && !POSTGRES_URL ? NEEDS_POSTGRES : false
    const test = (name, fn) => it(name, { skip }, fn)
    let server, tmp, pg, sk, snapshot
    const ids = {}

    before(async () => {
      if (skip) return
      if (mode === 'remote') {
        server = await startServer()
        sk = new ScalekitClient(server.url, server.clientId, server.clientSecret)
        snapshot = sqliteSnapshot(server.database)
      } else if (mode === 'postgres') {
        pg = createPostgresDatabase()
        sk = ScalekitClient.local(pg.url, { issuer: LOCAL_ISSUER })
        snapshot = postgresSnapshot(pg.url)
      } else {
        tmp = tempDir()
        const file = join(tmp.dir, 'ops.db')
        sk = ScalekitClient.local(`sqlite://${file}`, { issuer: LOCAL_ISSUER })
        snapshot = sqliteSnapshot(file)
      }
      ids.org = (await sk.organization.createOrganization('Failures')).organization.id
      const created = await sk.m2m.createOrganizationClient(ids.org, { name: 'svc', scopes: ['read'] })
      ids.clientId = created.client.clientId
      ids.jwt = await sk.generateClientToken(ids.clientId, created.plainSecret)
      await sk.token.createToken(ids.org)
      ids.userExternalId = `member-${mode}`
      const member = await sk.user.createUserAndMembership(ids.org, {
        email: `member-${mode}@failures.test`,
        externalId: ids.userExternalId,
        roles: ['viewer'],
      })
      ids.userId = member.user.id
    })

    after(async () => {
      if (server) await server.stop()
      if (tmp) tmp.cleanup()
      if (pg) pg.drop()
    })

    test('every method: the exact error code, the store unchanged', async () => {
      for (const [op, [call, Class, code]] of Object.entries(FAILURES)) {
        const before = snapshot()
        await rejectsWith(call(sk, ids), Class, code, op)
        assert.equal(snapshot(), before, `${op} changed the store`)
      }
      const before = snapshot()
      assert.equal(await sk.validateAccessToken('not.a.jwt'), false)
      assert.throws(() => sk.verifyScopes(ids.jwt, ['admin']), (e) => e instanceof ScalekitValidateTokenFailureException && e.code === 'insufficient_scope')
      assert.equal(snapshot(), before)
    })

    test('jwtValidator: clearTokenCache keeps validating; an empty issuer is refused', async () => {
      const v = sk.jwtValidator()
      const first = await v.validate(ids.jwt)
      v.clearTokenCache()
      assert.deepEqual(v.validateSync(ids.jwt), first)
      // On a client without a cached default validator: jwtValidator() caches by `issuer || null`,
      // so after a default one an empty issuer returns that one instead of being refused.
      const fresh = ScalekitClient.local(`sqlite://${join(tempDir().dir, 'fresh.db')}`, { issuer: LOCAL_ISSUER })
      assert.throws(() => fresh.jwtValidator({ issuer: '' }), (e) => e instanceof ScalekitBadRequestException && e.code === 'invalid_argument')
    })
  })
}

describe('failures outside a store', () => {
  test('local() with a bad URL is a typed error', () => {
    const tmp = tempDir()
    try {
      for (const [url, code] of [
        ['mysql://localhost/authgate', 'invalid_argument'],
        ['not a url', 'invalid_argument'],
        [`sqlite://${tmp.dir}/missing-dir/authgate.db`, 'unavailable'],
      ]) {
        assert.throws(() => ScalekitClient.local(url), (e) => e instanceof ScalekitException && e.code === code, url)
      }
    } finally {
      tmp.cleanup()
    }
  })

  test('JwtValidator: refresh fails with keys_unavailable; malformed tokens fail everywhere', async () => {
    const v = new JwtValidator({ issuer: 'https://issuer.test', jwksUrl: `http://127.0.0.1:${await freePort()}/keys` })
    await rejectsWith(v.refresh(), ScalekitKeysUnavailableException, 'keys_unavailable', 'refresh')
    assert.ok(v.status().consecutiveFailures >= 1)
    assert.throws(() => v.validateSync('not.a.jwt'), (e) => e instanceof ScalekitValidateTokenFailureException && e.code === 'token_malformed')
    assert.throws(() => v.tryValidate('not.a.jwt'), (e) => e instanceof ScalekitValidateTokenFailureException && e.code === 'token_malformed')
    assert.throws(() => v.grantedScopes('not.a.jwt'), (e) => e instanceof ScalekitValidateTokenFailureException && e.code === 'token_malformed')
    await rejectsWith(v.validate('not.a.jwt'), ScalekitValidateTokenFailureException, 'token_malformed', 'validate')
  })

  test('ClientCredentials: every token call fails with invalid_client on a wrong secret', async () => {
    const server = await startServer()
    try {
      const wrong = new ClientCredentials({ envUrl: server.url, clientId: server.clientId, clientSecret: 'wrong-secret' })
      await rejectsWith(wrong.getToken(), ScalekitUnauthorizedException, 'invalid_client', 'getToken')
      await rejectsWith(wrong.getTokenInfo(), ScalekitUnauthorizedException, 'invalid_client', 'getTokenInfo')
      await rejectsWith(wrong.authorizationHeader(), ScalekitUnauthorizedException, 'invalid_client', 'authorizationHeader')
      assert.equal(wrong.cached(), undefined)
    } finally {
      await server.stop()
    }
  })
})
