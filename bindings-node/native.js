'use strict'
/**
 * The native half of `authgate`: loads the addon through the loader that `napi build` generates
 * (`binding.js`: the `authgate.<platform>.node` next to it, else the `authgate-<platform>`
 * package that npm installs as an optional dependency).
 *
 * When no binary fits this machine, napi's own error only says "Cannot find native binding";
 * this file replaces it with one that names this machine's platform, the package that carries
 * its binary (or the platforms that have one) and what to do, keeping napi's error as `cause`.
 */

let binding
try {
  binding = require('./binding.js')
} catch (err) {
  throw missingBinaryError(err)
}
module.exports = binding

/** `linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`…: napi's name of this machine's platform. */
function currentPlatform() {
  const { platform, arch } = process
  if (platform === 'linux') return `${platform}-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `${platform}-${arch}-msvc`
  return `${platform}-${arch}`
}

function isMusl() {
  try {
    const report = process.report && process.report.getReport()
    if (report && report.header && report.header.glibcVersionRuntime) return false
  } catch {
    // fall through to the loader's file check
  }
  try {
    return require('fs').readFileSync('/usr/bin/ldd', 'utf8').includes('musl')
  } catch {
    return false
  }
}

/** napi's platform name of a Rust target triple (`x86_64-unknown-linux-musl` → `linux-x64-musl`). */
function platformOfTriple(triple) {
  const [cpu, , os, abi] = triple.split('-')
  const arch = { x86_64: 'x64', aarch64: 'arm64', i686: 'ia32', armv7: 'arm' }[cpu] || cpu
  if (triple.includes('-apple-darwin')) return `darwin-${arch}`
  if (triple.includes('-windows-')) return `win32-${arch}-${abi || os}`
  if (triple.includes('-linux-')) return `linux-${arch}-${abi}`
  return `${os}-${arch}`
}

/** Whether this machine's binary is on disk: next to this file, or as its platform package. */
function binaryPresent(name, here, pkgName) {
  const { existsSync } = require('fs')
  if (existsSync(require('path').join(__dirname, `${name}.${here}.node`))) return true
  try {
    require.resolve(`${pkgName}/package.json`)
    return true
  } catch {
    return false
  }
}

/** The first message in napi's error chain that is more than "not found". */
function innermostMessage(err) {
  for (let e = err; e; e = e.cause) {
    const m = String((e && e.message) || e)
    if (!/^Cannot find (module|native binding)|^Failed to load native binding/.test(m)) return m.split('\n')[0]
  }
  return String((err && err.message) || err)
}

function missingBinaryError(cause) {
  let pkg = {}
  try {
    pkg = require('./package.json')
  } catch {
    // the message below still names the platform
  }
  const name = pkg.name || 'authgate'
  const version = pkg.version || ''
  const targets = (pkg.napi && pkg.napi.targets) || []
  const supported = targets.map(platformOfTriple)
  const here = currentPlatform()
  const pkgName = `${name}-${here}`
  let advice
  if (binaryPresent(name, here, pkgName)) {
    advice =
      `The binary for ${here} is installed but did not load (${innermostMessage(cause)}); ` +
      `reinstall ${name} and ${pkgName} at the same version.`
  } else if (supported.length > 0 && !supported.includes(here)) {
    advice =
      `${name} ${version} has no prebuilt binary for ${here}; it has binaries for ${supported.join(', ')}. ` +
      'On another platform, build the addon from source (a Rust toolchain and `npm run build` in a checkout of bindings-node/).'
  } else {
    advice =
      `Its binary comes in the package ${pkgName}@${version}, an optional dependency of ${name} that is not installed. ` +
      `Install it (\`npm install ${pkgName}@${version}\`, or the tarball ${pkgName}-${version}.tgz of a local build), ` +
      'and do not install with --omit=optional / --no-optional. If node_modules or package-lock.json came from ' +
      'another platform (npm bug https://github.com/npm/cli/issues/4828), delete both and run `npm install` again.'
  }
  const error = new Error(`${name}: no native binary for this machine (${here}, Node ${process.version}). ${advice}`)
  error.code = 'AUTHGATE_NATIVE_BINARY_MISSING'
  error.cause = cause
  return error
}
