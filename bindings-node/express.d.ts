// Type definitions of `authgate/express` (Express 4 and 5).
import type { JwtValidator, ScalekitClient } from './index'

export type NextFunction = (err?: unknown) => void
export type AuthMiddleware = (req: any, res: any, next: NextFunction) => void

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `authenticateToken`: the validated API key's metadata. */
      tokenInfo?: import('./index').Token
      /** Set by `requireScope` and `requireOrganizationToken`: the verified JWT's claims. */
      tokenClaims?: import('./index').JwtClaims
    }
  }
}

export interface SetupOptions {
  /**
   * Default `trustedProxies` of `authenticateToken`: the networks (`'10.0.0.0/8'`,
   * `'2001:db8::/32'`, bare addresses) of the reverse proxies whose `X-Forwarded-For` is
   * believed. Default none (the socket's peer address only). Invalid entries throw
   * `ScalekitBadRequestException` here.
   */
  trustedProxies?: string[] | null
}

/** Sets the client used when none is passed explicitly (and the default trusted proxies). Returns it. */
export declare function setup(client: ScalekitClient, options?: SetupOptions): ScalekitClient

export interface AuthenticateTokenOptions {
  client?: ScalekitClient
  /** `realm` of the `WWW-Authenticate` challenge (default `"api"`; `null` or `''` for none). */
  realm?: string | null
  /**
   * The reverse proxies whose `X-Forwarded-For` is believed for the request's address (keys with
   * `allowedCidrs`); default the `setup()` ones, else none (`req.socket.remoteAddress` only).
   * Invalid entries throw `ScalekitBadRequestException` when the middleware is created.
   */
  trustedProxies?: string[] | null
}

/**
 * API-key authentication (`req.tokenInfo`): use as middleware with the `setup()` client, or call
 * with a client / options to bind one.
 */
export declare function authenticateToken(req: any, res: any, next: NextFunction): void
export declare function authenticateToken(client?: ScalekitClient | AuthenticateTokenOptions): AuthMiddleware

export interface RequireScopeOptions {
  /** Require at least one of the scopes instead of all. */
  any?: boolean
  /** The client whose tokens are accepted (default: the `setup()` client). */
  client?: ScalekitClient
  /** A validator for tokens of another issuer (instead of the client's). */
  validator?: JwtValidator
  /** Accepted audiences (with the client's validator). */
  audience?: string | string[]
  /** Required issuer (with the client's validator; default the environment URL). */
  issuer?: string
  /** `realm` of the `WWW-Authenticate` challenge (default `"api"`; `null` or `''` for none). */
  realm?: string | null
}

/** JWT authorisation (`req.tokenClaims`): verify, then require `scopes` (at least one: `TypeError` when the route is defined otherwise). */
export declare function requireScope(scopes: string | string[], options?: RequireScopeOptions): AuthMiddleware

export type RequireOrganizationTokenOptions = Omit<RequireScopeOptions, 'any'>

/**
 * JWT authorisation (`req.tokenClaims`) open to any organization's token whatever its scopes; the
 * environment's own admin token (no `oid` claim) is refused with 403 `insufficient_scope`.
 */
export declare function requireOrganizationToken(options?: RequireOrganizationTokenOptions): AuthMiddleware

/**
 * The bearer token of a request by the core's rule (scheme case-insensitive, exactly one token68
 * token, at most 8 KiB): `null` without one or when malformed.
 */
export declare function bearerToken(req: { headers: { authorization?: string | undefined } }): string | null
