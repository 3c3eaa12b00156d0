// Test fixtures: the real `authgate serve` on a free loopback port with a temporary SQLite file,
// an embedded client on another temporary file, and a loopback Express server.
import { spawn, execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

const here = dirname(fileURLToPath(import.meta.url))
export const packageDir = resolve(here, '..')
export const repoDir = resolve(packageDir, '..')
export const require = createRequire(import.meta.url)

/** The `authgate` binary: `AUTHGATE_BIN`, else the workspace's debug build. */
export function authgateBinary() {
  const triple = process.env.CARGO_BUILD_TARGET || 'x86_64-unknown-linux-gnu'
  const candidates = [
    process.env.AUTHGATE_BIN,
    join(repoDir, 'target', triple, 'debug', 'authgate'),
    join(repoDir, 'target', 'debug', 'authgate'),
  ].filter(Boolean)
  const found = candidates.find((p) => existsSync(p))
  if (!found) throw new Error(`authgate binary not found (tried ${candidates.join(', ')}); run cargo build -p authgate-server`)
  return found
}

export function tempDir(prefix = 'authgate-node-') {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/**
 * Starts `authgate serve --listen 127.0.0.1:0` on a fresh SQLite file with provisioned
 * environment credentials. Resolves `{ url, clientId, clientSecret, stop() }`.
 */
export async function startServer({ env = {}, timeoutMs = 60_000 } = {}) {
  const { dir, cleanup } = tempDir('authgate-serve-')
  const clientId = `skc_${randomBytes(8).toString('hex')}`
  const clientSecret = randomBytes(24).toString('hex')
  const childEnv = { ...process.env }
  for (const k of ['AUTHGATE_LISTEN', 'AUTHGATE_ISSUER', 'RUST_LOG', 'AUTHGATE_KEY_PEPPER', 'AUTHGATE_MASTER_KEY']) delete childEnv[k]
  Object.assign(childEnv, {
    AUTHGATE_DATABASE_URL: `sqlite://${join(dir, 'authgate.db')}`,
    AUTHGATE_CLIENT_ID: clientId,
    AUTHGATE_CLIENT_SECRET: clientSecret,
    AUTHGATE_LOG: 'warn',
    ...env,
  })
  const child = spawn(authgateBinary(), ['serve', '--listen', '127.0.0.1:0'], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (d) => {
    stderr += d
  })
  const url = await new Promise((resolveUrl, reject) => {
    let out = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`authgate serve did not start in time; stderr:\n${stderr}`))
    }, timeoutMs)
    child.stdout.on('data', (d) => {
      out += d
      const m = /authgate listening on (\S+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolveUrl(m[1])
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`authgate serve exited (${code}); stderr:\n${stderr}`))
    })
  })
  child.stdout.resume()
  const exited = new Promise((r) => child.on('exit', r))
  return {
    url,
    clientId,
    clientSecret,
    /** The server's SQLite file. */
    database: join(dir, 'authgate.db'),
    stderr: () => stderr,
    async stop() {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
      cleanup()
    },
  }
}

/** A loopback HTTP server for an Express app; resolves `{ url, close() }`. */
export function listen(app) {
  return new Promise((resolveListen, reject) => {
    const server = app.listen(0, '127.0.0.1', (err) => {
      if (err) return reject(err)
      const { port } = server.address()
      resolveListen({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections?.()
            server.close(() => r())
          }),
      })
    })
    server.on('error', reject)
  })
}

/** A day in seconds: rate-limit windows are aligned to the Unix epoch. */
export const DAY = 86_400

/**
 * Waits out the end of the current day window when it is less than `marginMs` away, so a test
 * that uses up a daily rate limit and then expects refusals never runs across midnight UTC.
 */
export async function freshDayWindow(marginMs = 120_000) {
  const left = DAY * 1000 - (Date.now() % (DAY * 1000))
  if (left < marginMs) await new Promise((resolve) => setTimeout(resolve, left + 1000))
}

export function uniqueEmail() {
  return `user-${randomBytes(6).toString('hex')}@example.com`
}

export const POSTGRES_URL = process.env.AUTHGATE_TEST_DATABASE_URL
export const NEEDS_POSTGRES = 'needs PostgreSQL: set AUTHGATE_TEST_DATABASE_URL (scripts/with-postgres)'
if (process.env.AUTHGATE_REQUIRE_POSTGRES === '1' && !POSTGRES_URL) {
  throw new Error('AUTHGATE_REQUIRE_POSTGRES=1 but AUTHGATE_TEST_DATABASE_URL is not set')
}

function psql(adminUrl, sql) {
  const exe = process.env.AUTHGATE_TEST_PG_BIN ? join(process.env.AUTHGATE_TEST_PG_BIN, 'psql') : 'psql'
  execFileSync(exe, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', adminUrl, '-c', sql], { stdio: ['ignore', 'ignore', 'inherit'] })
}

/**
 * A database of its own on the cluster of `AUTHGATE_TEST_DATABASE_URL` (never its admin
 * database): resolves `{ url, drop() }`; `drop()` removes it, with any connection still open.
 */
export function createPostgresDatabase(prefix = 'authgate_node') {
  if (!POSTGRES_URL) throw new Error(NEEDS_POSTGRES)
  const name = `${prefix}_${randomBytes(6).toString('hex')}`
  psql(POSTGRES_URL, `CREATE DATABASE ${name}`)
  const url = new URL(POSTGRES_URL)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: () => psql(POSTGRES_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  }
}
