// Side-by-side JWT validation benchmark (make bench-node), all in one run, on the same RS256 token
// and the same JWKS served by a real `authgate serve` on loopback:
//
//   authgate JwtValidator.validateSync (verified-token cache off, and cache hit), validate() (Promise)
//   jose            createRemoteJWKSet + jwtVerify, and jwtVerify with the key imported once (its best case)
//   jsonwebtoken    + jwks-rsa (the seed's sample), and jsonwebtoken.verify with the key resolved once (its best case)
//   @scalekit-sdk/node  ScalekitClient.validateToken (JWKS from GET {envUrl}/keys)
//
// then Express requests/s without and with `requireScope` (autocannon, bounded loopback load, the
// Express server in its own process). Prints medians over interleaved rounds and ratios, and writes
// every figure to bench/results/node.json. BENCH_QUICK=1 is a short smoke run (same rows, few
// samples: the figures are not meant to be quoted).
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { mkdirSync, writeFileSync } from 'node:fs'

import { ScalekitClient, JwtValidator } from 'authgate'
import * as jose from 'jose'
import jsonwebtoken from 'jsonwebtoken'
import jwksRsa from 'jwks-rsa'
import autocannon from 'autocannon'

import { startServer } from '../../bindings-node/test/helpers.mjs'

const require = createRequire(import.meta.url)
const ScalekitOfficial = require('@scalekit-sdk/node').ScalekitClient

// Paired, alternating measurement: every cycle runs each contender for one short slice, so all of
// them see the same machine load; ratios are the median of the per-cycle ratios.
const QUICK = process.env.BENCH_QUICK === '1'
const CYCLES = Number(process.env.BENCH_CYCLES || (QUICK ? 3 : 30))
const SLICE_MS = Number(process.env.BENCH_SLICE_MS || (QUICK ? 20 : 100))
const HTTP_SECONDS = Number(process.env.BENCH_HTTP_SECONDS || (QUICK ? 1 : 2))
const HTTP_CYCLES = Number(process.env.BENCH_HTTP_CYCLES || (QUICK ? 1 : 3))
const RESULTS = fileURLToPath(new URL('../results/node.json', import.meta.url))
const HTTP_CONNECTIONS = Number(process.env.BENCH_HTTP_CONNECTIONS || 10)

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** ops/s of `fn` for about SLICE_MS: sync functions in batches, async ones awaited one by one. */
async function slice(fn, isAsync) {
  let ops = 0
  const start = process.hrtime.bigint()
  const limit = BigInt(SLICE_MS) * 1_000_000n
  let elapsed = 0n
  if (isAsync) {
    while (elapsed < limit) {
      for (let i = 0; i < 20; i++) await fn()
      ops += 20
      elapsed = process.hrtime.bigint() - start
    }
  } else {
    while (elapsed < limit) {
      for (let i = 0; i < 200; i++) fn()
      ops += 200
      elapsed = process.hrtime.bigint() - start
    }
  }
  return (ops * 1e9) / Number(elapsed)
}

async function main() {
  const server = await startServer()
  const children = []
  try {
    const url = server.url
    const sk = new ScalekitClient(url, server.clientId, server.clientSecret)
    const { organization } = await sk.organization.createOrganization('Bench')
    const { client, plainSecret } = await sk.m2m.createOrganizationClient(organization.id, {
      name: 'bench',
      scopes: ['orders:read', 'orders:write'],
    })
    const token = await sk.generateClientToken(client.clientId, plainSecret)
    const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString())
    console.log(`authgate serve ${url}; token ${token.length} bytes, ${header.alg}, kid ${header.kid}`)

    // --- the contenders, each warmed and checked on the real token --------------------------
    const noCache = new JwtValidator({ jwksUrl: `${url}/keys`, issuer: url, tokenCacheSize: 0 })
    await noCache.refresh()
    const cached = new JwtValidator({ jwksUrl: `${url}/keys`, issuer: url })
    await cached.refresh()

    const remoteJwks = jose.createRemoteJWKSet(new URL(`${url}/keys`))
    const joseVerify = () => jose.jwtVerify(token, remoteJwks, { issuer: url })

    const jwksClient = jwksRsa({ jwksUri: `${url}/keys`, cache: true })
    const seedVerify = async () => {
      const decoded = jsonwebtoken.decode(token, { complete: true })
      const key = await jwksClient.getSigningKey(decoded.header.kid)
      return jsonwebtoken.verify(token, key.getPublicKey(), { algorithms: ['RS256'], complete: true }).payload
    }

    // The peers' best cases: the key resolved once, outside the timed call.
    const jwksDoc = await (await fetch(`${url}/keys`)).json()
    const joseKey = await jose.importJWK(jwksDoc.keys.find((k) => k.kid === header.kid), 'RS256')
    const joseKeyOnce = () => jose.jwtVerify(token, joseKey, { issuer: url })
    const pem = (await jwksClient.getSigningKey(header.kid)).getPublicKey()
    const jsonwebtokenKeyOnce = () => jsonwebtoken.verify(token, pem, { algorithms: ['RS256'], issuer: url })

    const official = new ScalekitOfficial(url, server.clientId, server.clientSecret)
    const officialVerify = () => official.validateToken(token)

    const contenders = [
      { name: 'authgate validateSync, cache off', fn: () => noCache.validateSync(token), check: () => noCache.validateSync(token).sub },
      { name: 'authgate validateSync, cache hit', fn: () => cached.validateSync(token), check: () => cached.validateSync(token).sub },
      { name: 'authgate validate() Promise, cache off', fn: () => noCache.validate(token), isAsync: true, check: async () => (await noCache.validate(token)).sub },
      { name: 'jose createRemoteJWKSet + jwtVerify', fn: joseVerify, isAsync: true, check: async () => (await joseVerify()).payload.sub },
      { name: 'jose jwtVerify, key imported once', fn: joseKeyOnce, isAsync: true, check: async () => (await joseKeyOnce()).payload.sub },
      { name: 'jsonwebtoken + jwks-rsa', fn: seedVerify, isAsync: true, check: async () => (await seedVerify()).sub },
      { name: 'jsonwebtoken.verify, key resolved once', fn: jsonwebtokenKeyOnce, check: () => jsonwebtokenKeyOnce().sub },
      { name: '@scalekit-sdk/node validateToken', fn: officialVerify, isAsync: true, check: async () => (await officialVerify()).sub },
    ]
    for (const c of contenders) {
      const sub = await c.check()
      if (sub !== client.clientId) throw new Error(`${c.name}: wrong claims (${sub})`)
    }
    // Each one must also reject a forged signature.
    const forged = `${token.slice(0, token.lastIndexOf('.') + 1)}${'A'.repeat(342)}`
    for (const [name, f] of [
      ['authgate', () => noCache.validateSync(forged)],
      ['jose', () => jose.jwtVerify(forged, remoteJwks)],
      ['jsonwebtoken', () => jsonwebtoken.verify(forged, 'x')],
    ]) {
      let rejected = false
      try {
        await f()
      } catch {
        rejected = true
      }
      if (!rejected) throw new Error(`${name} accepted a forged token`)
    }

    // --- paired, alternating slices ------------------------------------------------------------
    const JOSE = 'jose createRemoteJWKSet + jwtVerify'
    const ops = new Map(contenders.map((c) => [c.name, []]))
    const ratios = new Map(contenders.map((c) => [c.name, []]))
    for (const c of contenders) await slice(c.fn, c.isAsync) // warm-up
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      if (global.gc) global.gc()
      const cycleOps = new Map()
      for (const c of contenders) cycleOps.set(c.name, await slice(c.fn, c.isAsync))
      for (const c of contenders) {
        ops.get(c.name).push(cycleOps.get(c.name))
        ratios.get(c.name).push(cycleOps.get(c.name) / cycleOps.get(JOSE))
      }
    }
    console.log(`\nJWT validation, RS256, one thread: medians of ${CYCLES} alternating ${SLICE_MS} ms slices each`)
    console.log('contender'.padEnd(42), 'ops/s'.padStart(10), 'µs/op'.padStart(8), '× jose'.padStart(8))
    const results = {
      quick: QUICK,
      node: process.version,
      cycles: CYCLES,
      slice_ms: SLICE_MS,
      jwt: [],
      express: [],
    }
    for (const c of contenders) {
      const m = median(ops.get(c.name))
      const ratio = median(ratios.get(c.name))
      console.log(c.name.padEnd(42), m.toFixed(0).padStart(10), (1e6 / m).toFixed(2).padStart(8), ratio.toFixed(2).padStart(8))
      results.jwt.push({ name: c.name, ops_per_second: m, microseconds_per_op: 1e6 / m, vs_jose: ratio })
    }

    // --- Express ----------------------------------------------------------------------------
    const app = fork(fileURLToPath(new URL('./express-server.mjs', import.meta.url)), [], {
      env: { ...process.env, AUTHGATE_URL: url, AUTHGATE_CLIENT_ID: server.clientId, AUTHGATE_CLIENT_SECRET: server.clientSecret },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    children.push(app)
    const appUrl = await new Promise((resolve, reject) => {
      app.once('message', (m) => resolve(m.url))
      app.once('exit', (code) => reject(new Error(`express server exited ${code}`)))
    })
    const routes = [
      ['no auth', '/plain'],
      ['requireScope, cache off', '/guarded-nocache'],
      ['requireScope, cache on (default)', '/guarded'],
    ]
    for (const [, path] of routes) {
      const res = await fetch(`${appUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })
      if (res.status !== 200) throw new Error(`${path}: ${res.status}`)
    }
    console.log(
      `\nExpress 5 on loopback, own process; autocannon ${HTTP_CONNECTIONS} connections; ` +
        `${HTTP_CYCLES} alternating runs of ${HTTP_SECONDS} s per route (medians)`,
    )
    const runs = new Map(routes.map(([name]) => [name, []]))
    for (let cycle = 0; cycle < HTTP_CYCLES; cycle++) {
      for (const [name, path] of routes) {
        const r = await autocannon({
          url: `${appUrl}${path}`,
          connections: HTTP_CONNECTIONS,
          duration: HTTP_SECONDS,
          headers: { authorization: `Bearer ${token}` },
        })
        if (r.non2xx || r.errors) throw new Error(`${path}: ${r.non2xx} non-2xx, ${r.errors} errors`)
        runs.get(name).push(r)
      }
    }
    console.log('route'.padEnd(36), 'req/s'.padStart(10), 'p50 ms'.padStart(8), 'p99 ms'.padStart(8), '% of no auth'.padStart(13))
    const plain = runs.get('no auth')
    for (const [name] of routes) {
      const rs = runs.get(name)
      const share = median(rs.map((r, i) => (100 * r.requests.average) / plain[i].requests.average))
      const row = {
        name,
        requests_per_second: median(rs.map((r) => r.requests.average)),
        p50_ms: median(rs.map((r) => r.latency.p50)),
        p99_ms: median(rs.map((r) => r.latency.p99)),
        percent_of_no_auth: share,
      }
      results.express.push(row)
      console.log(
        name.padEnd(36),
        row.requests_per_second.toFixed(0).padStart(10),
        String(row.p50_ms).padStart(8),
        String(row.p99_ms).padStart(8),
        share.toFixed(0).padStart(13),
      )
    }
    mkdirSync(fileURLToPath(new URL('../results/', import.meta.url)), { recursive: true })
    writeFileSync(RESULTS, JSON.stringify(results, null, 2) + '\n')
    console.log(`\nwritten to bench/results/node.json`)
  } finally {
    for (const c of children) c.kill()
    await server.stop()
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
