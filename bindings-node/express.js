'use strict'
/**
 * Express middleware (Express 4 and 5), named after the documented samples:
 *
 *   const { setup, authenticateToken, requireScope } = require('authgate/express')
 *   setup(scalekit)                                     // once; or pass the client explicitly:
 *   app.get('/api/resources', authenticateToken, handler)            // API key → req.tokenInfo
 *   app.get('/api/mine', authenticateToken(scalekit), handler)
 *   app.post('/deploy', requireScope('deploy:write'), handler)       // JWT → req.tokenClaims
 *   app.get('/reports', requireScope(['a', 'b'], { any: true, client: scalekit }), handler)
 *   app.get('/status', requireOrganizationToken(), handler)  // any organization's JWT, not the admin's
 *
 * Responses come from the core's request policy, the same as `authgate serve`'s and the Flask /
 * FastAPI adapters' (`tests/vectors/middleware.json`): no credentials → 401 with
 * `WWW-Authenticate: Bearer realm="api"`; a malformed, oversize or rejected credential → 401 with
 * `error="invalid_token"`; missing scopes → 403 with `error="insufficient_scope"` and
 * `scope="<missing scopes>"`; keys or the key service unavailable → 503 with `Retry-After: 5`;
 * an API key over its `rateLimit` → 429 with `Retry-After: <seconds>`.
 * The token is always verified before scopes are looked at. A misconfigured client (credentials
 * refused by the environment…) is a 500 `{"error": "Authentication is misconfigured on the
 * server"}` with one `console.error` line — check it at start-up with `await client.check()`.
 * Only real faults (not authgate errors) reach `next(err)`.
 * The realm is `options.realm` (default `"api"`; `null` or `''` for none).
 *
 * `authenticateToken` passes the request's address to the key check (keys with `allowedCidrs`):
 * the socket's peer address (`req.socket.remoteAddress`; Express's `req.ip` and its `trust proxy`
 * setting are not used). Behind a reverse proxy, `authenticateToken({ trustedProxies:
 * ['10.0.0.0/8'] })` (or `setup(client, { trustedProxies })`) believes `X-Forwarded-For` from
 * those proxies only: the address is the nearest entry that is not a trusted proxy (the core's
 * rule). Invalid entries throw `ScalekitBadRequestException` when the middleware is configured.
 *
 * JWT verification runs synchronously when the keys are cached, so `next()` is called in the same
 * tick; only a key fetch goes async.
 */

const { ScalekitClient, JwtValidator, ScalekitException, toScalekitError } = require('./index.js')
const native = require('./native.js')

/** The realm of the challenges unless configured (the same as Flask's and FastAPI's). */
const DEFAULT_REALM = 'api'

let configured = null
let configuredProxies = []

/**
 * The networks of a `trustedProxies` option, checked now (configuration time) by the core's rule;
 * `undefined`/`null` = none.
 */
function trustedProxiesOf(value, where) {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) throw new TypeError(`${where}: \`trustedProxies\` must be an array of networks`)
  try {
    return native.parseNetworks(value, 'trustedProxies')
  } catch (err) {
    throw toScalekitError(err)
  }
}

/**
 * Sets the client the middleware uses when none is passed explicitly, and optionally the default
 * `trustedProxies` of `authenticateToken`. Returns the client.
 */
function setup(client, options) {
  if (!(client instanceof ScalekitClient)) {
    throw new TypeError('authgate/express setup() expects a ScalekitClient')
  }
  const proxies = trustedProxiesOf((options || {}).trustedProxies, 'setup')
  configured = client
  configuredProxies = proxies
  return client
}

function configuredClient() {
  if (!configured) {
    throw new Error(
      'authgate/express: no client; call setup(scalekit) once, or pass the client (authenticateToken(scalekit), requireScope(scope, { client }))',
    )
  }
  return configured
}

function realmOf(realm) {
  if (realm === undefined) return DEFAULT_REALM
  return realm === null || realm === '' ? null : String(realm)
}

function headerOf(req) {
  const header = req.headers && req.headers.authorization
  return typeof header === 'string' ? header : null
}

/**
 * The bearer token of a request by the core's rule (RFC 6750: scheme case-insensitive, exactly
 * one token68 token, at most 8 KiB), or `null` when the request carries none or a malformed one.
 */
function bearerToken(req) {
  return native.checkBearer(headerOf(req), null).token ?? null
}

/** Sends an answer of the core's request policy. */
function send(res, answer) {
  for (const [name, value] of Object.entries(answer.headers)) res.set(name, value)
  res.status(answer.status).json(answer.body)
}

/** The request's token, or `null` after answering the request. */
function tokenOrAnswer(req, res, realm) {
  const check = native.checkBearer(headerOf(req), realm)
  if (check.answer) {
    send(res, check.answer)
    return null
  }
  return check.token
}

/**
 * Body `error` of the 500 answering a request the client could not check because it is
 * misconfigured (the same as Flask's and FastAPI's).
 */
const FAULT = 'Authentication is misconfigured on the server'

/**
 * Answers a failed check: 401 or 403 for a rejected credential, 503 when it could not be checked.
 * Another authgate error (a misconfigured client: credentials refused by the environment, …) is
 * a 500 with one `console.error` line naming the cause (never a secret), not a stack trace; any
 * other error is a real fault for `next(err)`.
 */
function fail(res, next, realm, err, what) {
  if (!(err instanceof ScalekitException)) return next(err)
  const answer = native.httpAnswer(err.code, err.httpStatus, err.missingScopes, realm, err.retryAfter)
  if (answer) return send(res, answer)
  console.error(
    `authgate: cannot check the ${what}: ${err.code}: ${err.message} (misconfigured client? await client.check() at start-up)`,
  )
  res.status(500).json({ error: FAULT })
}

function isRequest(req, next) {
  return typeof next === 'function' && req !== null && typeof req === 'object' && 'headers' in req
}

function clientFrom(arg) {
  if (arg === undefined || arg === null) return null
  if (arg instanceof ScalekitClient) return arg
  if (typeof arg === 'object' && arg.client !== undefined) {
    if (!(arg.client instanceof ScalekitClient)) throw new TypeError('`client` must be a ScalekitClient')
    return arg.client
  }
  if (typeof arg === 'object') return null
  throw new TypeError('expected a ScalekitClient or options')
}

/**
 * The request's address by the core's rule: the socket's peer, or `X-Forwarded-For` from a
 * trusted proxy. `null` when the peer is not an IP address.
 */
function requestAddress(req, proxies) {
  const peer = req.socket ? req.socket.remoteAddress : undefined
  const header = proxies.length > 0 && req.headers ? req.headers['x-forwarded-for'] : undefined
  const forwarded = header === undefined ? [] : [].concat(header)
  return native.clientAddress(typeof peer === 'string' ? peer : null, forwarded, proxies)
}

function apiKeyMiddleware(explicit, configuredRealm, proxies) {
  const realm = realmOf(configuredRealm)
  return function authenticateToken(req, res, next) {
    const token = tokenOrAnswer(req, res, realm)
    if (token === null) return
    let client
    let clientIp
    try {
      client = explicit || configuredClient()
      clientIp = requestAddress(req, proxies || configuredProxies)
    } catch (err) {
      return next(err)
    }
    client.token.validateToken(token, clientIp === null ? undefined : { clientIp }).then(
      (result) => {
        req.tokenInfo = result.tokenInfo
        next()
      },
      (err) => fail(res, next, realm, err, 'API key'),
    )
  }
}

/**
 * API-key authentication: validates the bearer key (with the request's address, for keys with
 * `allowedCidrs`) and sets `req.tokenInfo` (organization, user, custom claims, roles). Use it
 * directly as middleware (with the client from `setup()`), or call it with a client (or
 * `{ client, realm, trustedProxies }`) to get a middleware bound to that client.
 */
function authenticateToken(reqOrClient, res, next) {
  if (isRequest(reqOrClient, next)) return apiKeyMiddleware(null, undefined, null)(reqOrClient, res, next)
  const options = reqOrClient && typeof reqOrClient === 'object' && !(reqOrClient instanceof ScalekitClient)
    ? reqOrClient
    : {}
  const proxies = options.trustedProxies === undefined ? null : trustedProxiesOf(options.trustedProxies, 'authenticateToken')
  return apiKeyMiddleware(clientFrom(reqOrClient), options.realm, proxies)
}

/**
 * JWT authorisation: verifies the bearer access token, then requires `scopes` (all of them, or at
 * least one with `{ any: true }`), and sets `req.tokenClaims`. At least one scope is required
 * (`TypeError` when the route is defined otherwise). The validator is the client's (from
 * `options.client` or `setup()`, with `options.audience` / `options.issuer`), or
 * `options.validator` for tokens of any other issuer.
 */
function requireScope(scopes, options) {
  const list = scopes === undefined || scopes === null ? [] : [].concat(scopes)
  // At definition time: no scope would accept any token of the environment, its admin token included.
  if (list.length === 0) {
    throw new TypeError(
      'requireScope: at least one scope is required; a route without scopes would accept any token of the environment, its admin token included',
    )
  }
  for (const s of list) {
    if (typeof s !== 'string' || s === '') throw new TypeError('requireScope: scopes must be non-empty strings')
  }
  return jwtMiddleware('requireScope', { requiredScopes: list, any: (options || {}).any === true }, options)
}

/**
 * Requires a valid JWT access token issued to one of the environment's organizations, whatever its
 * scopes, and sets `req.tokenClaims`: for routes open to every customer machine. The environment's
 * own admin token (no `oid` claim) is refused with 403 `insufficient_scope`. Options as
 * `requireScope`'s: `client`, `validator`, `audience`, `issuer`, `realm`.
 */
function requireOrganizationToken(options) {
  return jwtMiddleware('requireOrganizationToken', { organization: true }, options)
}

/** The JWT middleware of `requireScope` / `requireOrganizationToken`: `check` is the validator's requirement. */
function jwtMiddleware(name, check, options) {
  const o = options || {}
  if (o.validator !== undefined && !(o.validator instanceof JwtValidator)) {
    throw new TypeError(`${name}: \`validator\` must be a JwtValidator`)
  }
  const explicit = clientFrom(o.client === undefined ? undefined : { client: o.client })
  const realm = realmOf(o.realm)
  let validator = o.validator || null

  return function jwtAuthMiddleware(req, res, next) {
    const token = tokenOrAnswer(req, res, realm)
    if (token === null) return
    let claims
    try {
      if (validator === null) {
        validator = (explicit || configuredClient()).jwtValidator({ audience: o.audience, issuer: o.issuer })
      }
      claims = validator.tryValidate(token, check)
    } catch (err) {
      return fail(res, next, realm, err, 'access token')
    }
    if (claims !== undefined) {
      req.tokenClaims = claims
      return next()
    }
    validator.validate(token, check).then(
      (c) => {
        req.tokenClaims = c
        next()
      },
      (err) => fail(res, next, realm, err, 'access token'),
    )
  }
}

module.exports = { setup, authenticateToken, requireScope, requireOrganizationToken, bearerToken }
