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
 *
 * Responses (RFC 6750, challenges built by the core exactly as `authgate serve` sends them): no
 * credentials → 401 with `WWW-Authenticate: Bearer`; a rejected credential → 401 with
 * `error="invalid_token"`; missing scopes → 403 with `error="insufficient_scope"` and
 * `scope="<missing scopes>"`; keys or the key service unavailable → 503.
 * The token is always verified before scopes are looked at. Only real faults reach `next(err)`.
 *
 * JWT verification runs synchronously when the keys are cached, so `next()` is called in the same
 * tick; only a key fetch goes async.
 */

const {
  ScalekitClient,
  JwtValidator,
  ScalekitValidateTokenFailureException,
  ScalekitInsufficientScopeException,
  ScalekitServiceUnavailableException,
  ScalekitGatewayTimeoutException,
} = require('./index.js')

// The same bodies as the Python middleware.
const MISSING = 'Missing authorization token'
const INVALID = 'Invalid or expired token'
const FORBIDDEN = 'Insufficient permissions'
const UNAVAILABLE = 'Authentication service unavailable'

let configured = null

/** Sets the client the middleware uses when none is passed explicitly. Returns it. */
function setup(client) {
  if (!(client instanceof ScalekitClient)) {
    throw new TypeError('authgate/express setup() expects a ScalekitClient')
  }
  configured = client
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

/**
 * The bearer token of a request: `null` without an `Authorization: Bearer …` header, `''` when the
 * header says Bearer but carries nothing usable.
 */
function bearerToken(req) {
  const header = req.headers && req.headers.authorization
  if (typeof header !== 'string' || header.length < 7) return null
  if (header.slice(0, 7).toLowerCase() !== 'bearer ') return null
  const token = header.slice(7).trim()
  // RFC 6750 b64token: no spaces, no quotes.
  if (token === '' || /[\s"\\,]/.test(token)) return ''
  return token
}

/** A challenge with the configured realm first (RFC 6750 §3). */
function withRealm(challenge, realm) {
  if (!realm) return challenge
  const rest = challenge.slice('Bearer'.length).trim()
  const value = String(realm).replace(/[^ !#-[\]-~]/g, '')
  return `Bearer realm="${value}"${rest ? `, ${rest}` : ''}`
}

function unauthorized(res, realm, message, err) {
  res.set('WWW-Authenticate', withRealm(err ? err.wwwAuthenticate : 'Bearer', realm))
  res.status(401).json({ error: message })
}

function forbidden(res, realm, err) {
  res.set('WWW-Authenticate', withRealm(err.wwwAuthenticate, realm))
  res.status(403).json({ error: FORBIDDEN })
}

function unavailable(res) {
  res.set('Retry-After', '5')
  res.status(503).json({ error: UNAVAILABLE })
}

/** Answers a failed check: 401 or 403 for a rejected credential, 503 when it could not be checked. */
function fail(res, next, realm, err) {
  if (err instanceof ScalekitInsufficientScopeException) return forbidden(res, realm, err)
  if (err instanceof ScalekitValidateTokenFailureException) return unauthorized(res, realm, INVALID, err)
  if (err instanceof ScalekitServiceUnavailableException || err instanceof ScalekitGatewayTimeoutException) {
    return unavailable(res)
  }
  next(err)
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

function apiKeyMiddleware(explicit, realm) {
  return function authenticateToken(req, res, next) {
    const token = bearerToken(req)
    if (!token) return unauthorized(res, realm, MISSING, null)
    let client
    try {
      client = explicit || configuredClient()
    } catch (err) {
      return next(err)
    }
    client.token.validateToken(token).then(
      (result) => {
        req.tokenInfo = result.tokenInfo
        next()
      },
      (err) => fail(res, next, realm, err),
    )
  }
}

/**
 * API-key authentication: validates the bearer key and sets `req.tokenInfo` (organization, user,
 * custom claims, roles). Use it directly as middleware (with the client from `setup()`), or call
 * it with a client (or `{ client, realm }`) to get a middleware bound to that client.
 */
function authenticateToken(reqOrClient, res, next) {
  if (isRequest(reqOrClient, next)) return apiKeyMiddleware(null, undefined)(reqOrClient, res, next)
  const realm = reqOrClient && typeof reqOrClient === 'object' && !(reqOrClient instanceof ScalekitClient)
    ? reqOrClient.realm
    : undefined
  return apiKeyMiddleware(clientFrom(reqOrClient), realm)
}

/**
 * JWT authorisation: verifies the bearer access token, then requires `scopes` (all of them, or at
 * least one with `{ any: true }`), and sets `req.tokenClaims`. The validator is the client's (from
 * `options.client` or `setup()`, with `options.audience` / `options.issuer`), or
 * `options.validator` for tokens of any other issuer.
 */
function requireScope(scopes, options) {
  const list = scopes === undefined || scopes === null ? [] : [].concat(scopes)
  for (const s of list) {
    if (typeof s !== 'string' || s === '') throw new TypeError('requireScope: scopes must be non-empty strings')
  }
  const o = options || {}
  if (o.validator !== undefined && !(o.validator instanceof JwtValidator)) {
    throw new TypeError('requireScope: `validator` must be a JwtValidator')
  }
  const explicit = clientFrom(o.client === undefined ? undefined : { client: o.client })
  const check = { requiredScopes: list, any: o.any === true }
  const realm = o.realm
  let validator = o.validator || null

  return function requireScopeMiddleware(req, res, next) {
    const token = bearerToken(req)
    if (!token) return unauthorized(res, realm, MISSING, null)
    let claims
    try {
      if (validator === null) {
        validator = (explicit || configuredClient()).jwtValidator({ audience: o.audience, issuer: o.issuer })
      }
      claims = validator.tryValidate(token, check)
    } catch (err) {
      return fail(res, next, realm, err)
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
      (err) => fail(res, next, realm, err),
    )
  }
}

module.exports = { setup, authenticateToken, requireScope, bearerToken }
