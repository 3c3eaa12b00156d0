// Type definitions of the `authgate` package. The records (API shapes) are the ones napi generates
// from the Rust structs (native.d.ts), re-exported here once; this file declares only what the
// JavaScript layer adds: the classes of index.js, option types of its own, and the errors. Names
// and shapes follow the official Scalekit Node SDK (`@scalekit-sdk/node`).

import type {
  CreateUserAndMembershipOptions as NativeCreateUserAndMembershipOptions,
  AuditEvent,
  ClientAccessToken,
  ClientCredentialsOptions,
  ClientSecret,
  CreateOrganizationClientResponse,
  CreateOrganizationClientSecretResponse,
  CreateOrganizationOptions,
  CreateTokenOptions,
  CreateTokenResponse,
  CreateUserAndMembershipResponse,
  CustomClaim,
  JwksStatus,
  JwtValidatorOptions,
  ListAuditEventsOptions,
  ListAuditEventsResponse,
  ListOrganizationClientsOptions,
  ListOrganizationClientsResponse,
  ListOrganizationsOptions,
  ListOrganizationsResponse,
  ListTokensOptions,
  ListTokensResponse,
  ListUsersOptions,
  ListUsersResponse,
  M2MClient,
  Organization,
  OrganizationClientOptions,
  OrganizationClientResponse,
  OrganizationMembership,
  OrganizationResponse,
  RateLimit,
  Role,
  RotateTokenOptions,
  Token,
  UpdateOrganizationOptions,
  UpdateTokenOptions,
  UpdateTokenResponse,
  User,
  UserResponse,
  ValidateTokenOptions,
  ValidateTokenResponse,
} from './native'

export type {
  AuditEvent,
  ClientAccessToken,
  ClientCredentialsOptions,
  ClientSecret,
  CreateOrganizationClientResponse,
  CreateOrganizationClientSecretResponse,
  CreateOrganizationOptions,
  CreateTokenOptions,
  CreateTokenResponse,
  CreateUserAndMembershipResponse,
  CustomClaim,
  JwksStatus,
  JwtValidatorOptions,
  ListAuditEventsOptions,
  ListAuditEventsResponse,
  ListOrganizationClientsOptions,
  ListOrganizationClientsResponse,
  ListOrganizationsOptions,
  ListOrganizationsResponse,
  ListTokensOptions,
  ListTokensResponse,
  ListUsersOptions,
  ListUsersResponse,
  M2MClient,
  Organization,
  OrganizationClientOptions,
  OrganizationClientResponse,
  OrganizationMembership,
  OrganizationResponse,
  RateLimit,
  Role,
  RotateTokenOptions,
  Token,
  UpdateOrganizationOptions,
  UpdateTokenOptions,
  UpdateTokenResponse,
  User,
  UserResponse,
  ValidateTokenOptions,
  ValidateTokenResponse,
}

// ---------------------------------------------------------------------------------------------
// Wire types
// ---------------------------------------------------------------------------------------------

/** An empty result (`google.protobuf.Empty`). */
export type Empty = Record<string, never>

/** Alias: the metadata returned as `tokenInfo`. */
export type TokenInfo = Token

/** An organization's M2M client (Scalekit's `M2MClient` message); the older name of the record. */
export type OrganizationM2MClient = M2MClient

/** `ClientSecret.status` values. */
export declare const ClientSecretStatus: { readonly ACTIVE: 0; readonly INACTIVE: 1 }
export type ClientSecretStatus = 0 | 1

export type GetOrganizationClientResponse = OrganizationClientResponse
export type UpdateOrganizationClientResponse = OrganizationClientResponse

export type CreateOrganizationResponse = OrganizationResponse
export type GetOrganizationResponse = OrganizationResponse
export type UpdateOrganizationResponse = OrganizationResponse

export type GetUserResponse = UserResponse
export type UpdateUserResponse = UserResponse
export type CreateMembershipResponse = UserResponse
export type UpdateMembershipResponse = UserResponse
export type ListOrganizationUsersResponse = ListUsersResponse

/**
 * The update of `updateOrganization`: the fields present are the update (at least one);
 * `externalId: ''` removes the external id. `metadata`, `slug` and `logoUrl` (official SDK
 * fields authgate does not store) are refused when set.
 */
export interface UpdateOrganization extends UpdateOrganizationOptions {
  metadata?: Record<string, string>
  slug?: string
  logoUrl?: string
}

/**
 * The options of `updateUser`: `externalId` (`''` removes it). `userProfile` and `metadata`
 * (official SDK fields authgate does not store) are refused when set.
 */
export interface UpdateUserOptions {
  externalId?: string
  userProfile?: Record<string, unknown>
  metadata?: Record<string, string>
}

/**
 * The options of `createMembership` / `updateMembership`: role names (on update they replace the
 * current roles). `metadata` is refused when set; `sendInvitationEmail` is accepted and ignored
 * (authgate sends no email).
 */
export interface MembershipOptions {
  roles?: Array<string | Role>
  metadata?: Record<string, string>
  sendInvitationEmail?: boolean
}

/** The options of `createUserAndMembership`: the native ones, or the roles under `membership`. */
export interface CreateUserAndMembershipOptions extends NativeCreateUserAndMembershipOptions {
  /** The official SDK's shape: `{ membership: { roles } }`. */
  membership?: { roles?: string[] }
}

// ---------------------------------------------------------------------------------------------
// JWT
// ---------------------------------------------------------------------------------------------

/** Verified claims of an access token. authgate / Scalekit M2M tokens carry the named ones. */
export interface JwtClaims {
  iss?: string
  /** The M2M client id (`m2morg_…`). */
  sub?: string
  client_id?: string
  /** Organization id. */
  oid?: string
  /** Granted scopes (array). */
  scopes?: string[]
  /** Granted scopes (space-separated). */
  scope?: string
  aud?: string | string[]
  custom_claims?: Record<string, string>
  iat?: number
  nbf?: number
  exp: number
  jti?: string
  [claim: string]: unknown
}

/** Options of `scalekit.validateToken` (as the official SDK's `TokenValidationOptions`). */
export interface TokenValidationOptions {
  /** Required `iss` (default: the environment URL / the embedded issuer). */
  issuer?: string
  /** Accepted audiences: `aud` must hold one of them. */
  audience?: string | string[]
  /** Scopes that must all be granted. */
  requiredScopes?: string[]
}

export interface ScopeCheck {
  /** Scopes to require after verification. */
  requiredScopes?: string[]
  /** Require at least one of `requiredScopes` instead of all. */
  any?: boolean
  /**
   * Require an organization's token (an `oid` claim): refuses the environment's own admin token
   * with `ScalekitInsufficientScopeException` (403) whatever the scopes.
   */
  organization?: boolean
}

/**
 * Verifies JWT access tokens of one issuer against its cached JWKS. Verification is synchronous
 * on the calling thread when the keys are cached; only key fetches go async.
 */
export declare class JwtValidator {
  constructor(options: JwtValidatorOptions)
  /** The issuer required in `iss`, if any. */
  readonly issuer: string | null
  /** Verifies and returns the claims; blocks on a key fetch only on a cold cache. */
  validateSync<T extends object = JwtClaims>(token: string, options?: ScopeCheck): T
  /** Verifies; settled from the synchronous path when the keys are cached. */
  validate<T extends object = JwtClaims>(token: string, options?: ScopeCheck): Promise<T>
  /** The synchronous step alone: claims, or `undefined` when keys must be fetched (then `validate`). */
  tryValidate<T extends object = JwtClaims>(token: string, options?: ScopeCheck): T | undefined
  /** Verifies `token` and returns the scopes it grants, in order of appearance. */
  grantedScopes(token: string): string[]
  /** Fetches the keys now (e.g. at startup). */
  refresh(): Promise<void>
  /** Empties the verified-token cache. */
  clearTokenCache(): void
  status(): JwksStatus
}

/** A cached client-credentials token source (refresh-ahead, single-flight). */
export declare class ClientCredentials {
  constructor(options: ClientCredentialsOptions)
  getToken(): Promise<string>
  getTokenInfo(): Promise<ClientAccessToken>
  /** `Bearer <token>`. */
  authorizationHeader(): Promise<string>
  cached(): ClientAccessToken | undefined
  invalidate(): void
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

/** `scalekit.token`: API keys (`TokenService` in Python too). */
export declare class TokenService {
  createToken(organizationId: string, options?: CreateTokenOptions): Promise<CreateTokenResponse>
  /**
   * Validates an API key. `options.clientIp`: the caller's address (keys with `allowedCidrs`
   * validate only from inside them). Over the key's `rateLimit`: `ScalekitRateLimitedException`.
   */
  validateToken(token: string, options?: ValidateTokenOptions): Promise<ValidateTokenResponse>
  listTokens(organizationId: string, options?: ListTokensOptions): Promise<ListTokensResponse>
  invalidateToken(token: string): Promise<Empty>
  updateToken(token: string, options?: UpdateTokenOptions): Promise<UpdateTokenResponse>
  /** authgate extension: a new key; the old one validates until its grace period ends. */
  rotateToken(token: string, options?: RotateTokenOptions): Promise<CreateTokenResponse>
}

/** `scalekit.m2m`: M2M clients (`M2MClientService` in Python too; the record is `M2MClient`). */
export declare class M2MClientService {
  createOrganizationClient(organizationId: string, options?: OrganizationClientOptions): Promise<CreateOrganizationClientResponse>
  getOrganizationClient(organizationId: string, clientId: string): Promise<GetOrganizationClientResponse>
  updateOrganizationClient(
    organizationId: string,
    clientId: string,
    options?: OrganizationClientOptions,
  ): Promise<UpdateOrganizationClientResponse>
  deleteOrganizationClient(organizationId: string, clientId: string): Promise<Empty>
  listOrganizationClients(organizationId: string, options?: ListOrganizationClientsOptions): Promise<ListOrganizationClientsResponse>
  addOrganizationClientSecret(organizationId: string, clientId: string): Promise<CreateOrganizationClientSecretResponse>
  removeOrganizationClientSecret(organizationId: string, clientId: string, secretId: string): Promise<Empty>
}

/** `scalekit.organization`: organizations (`OrganizationService` in Python too). */
export declare class OrganizationService {
  createOrganization(name: string, options?: CreateOrganizationOptions): Promise<CreateOrganizationResponse>
  getOrganization(id: string): Promise<GetOrganizationResponse>
  listOrganization(options?: ListOrganizationsOptions): Promise<ListOrganizationsResponse>
  updateOrganization(id: string, organization: UpdateOrganization): Promise<UpdateOrganizationResponse>
  deleteOrganization(id: string): Promise<Empty>
}

/** `scalekit.user`: users and memberships (`UserService` in Python too). */
export declare class UserService {
  createUserAndMembership(organizationId: string, options: CreateUserAndMembershipOptions): Promise<CreateUserAndMembershipResponse>
  getUser(userId: string): Promise<GetUserResponse>
  getUserByExternalId(externalId: string): Promise<GetUserResponse>
  listUsers(options?: ListUsersOptions): Promise<ListUsersResponse>
  listOrganizationUsers(organizationId: string, options?: ListUsersOptions): Promise<ListOrganizationUsersResponse>
  updateUser(userId: string, options: UpdateUserOptions): Promise<UpdateUserResponse>
  updateUserByExternalId(externalId: string, options: UpdateUserOptions): Promise<UpdateUserResponse>
  /** Deletes the user with their memberships and API keys (which stop validating at once). */
  deleteUser(userId: string): Promise<Empty>
  deleteUserByExternalId(externalId: string): Promise<Empty>
  createMembership(organizationId: string, userId: string, options?: MembershipOptions): Promise<CreateMembershipResponse>
  createMembershipByExternalId(organizationId: string, externalId: string, options?: MembershipOptions): Promise<CreateMembershipResponse>
  updateMembership(organizationId: string, userId: string, options?: MembershipOptions): Promise<UpdateMembershipResponse>
  updateMembershipByExternalId(organizationId: string, externalId: string, options?: MembershipOptions): Promise<UpdateMembershipResponse>
  /** Removes the user from the organization, with their API keys there (which stop validating at once). */
  deleteMembership(organizationId: string, userId: string): Promise<Empty>
  deleteMembershipByExternalId(organizationId: string, externalId: string): Promise<Empty>
}

/** `scalekit.audit`: the audit log (an authgate extension; `AuditService` in Python too). */
export declare class AuditService {
  /**
   * Audit events, oldest first, one page at a time: management actions and refused management
   * authentications. Filters combine; `startTime` is inclusive, `endTime` exclusive. An unknown
   * `action` or a malformed filter rejects with `ScalekitBadRequestException` (`invalid_argument`).
   */
  listEvents(options?: ListAuditEventsOptions): Promise<ListAuditEventsResponse>
}

/**
 * The options of a remote client: the same names (snake_case there) and defaults as Python's, set
 * up by the core (tests/vectors/client_options.json). Unknown names are refused.
 */
export interface ScalekitOptions {
  /**
   * Deadline of one call in **seconds** (fractions allowed), everything included: the environment
   * token, every attempt and the waits between them; also bounds each JWKS fetch. Past it the
   * call rejects with `ScalekitGatewayTimeoutException` (`deadline_exceeded`). Default 5.
   */
  timeout?: number
  /** Time to open a connection in seconds (default 2). */
  connectTimeout?: number
  /** Retries of idempotent calls on 503/unavailable/timeouts, within `timeout` (default 2). */
  retries?: number
  /** Allow plain `http://` to hosts other than loopback. Dangerous. */
  dangerousAllowInsecureHttp?: boolean
}

/** The options of an embedded client (the same as Python's `local()`). Unknown names are refused. */
export interface LocalOptions {
  /** `iss` of the tokens it issues (default `AUTHGATE_ISSUER`, else `http://localhost`). */
  issuer?: string
  /** Pepper of key digests (default `AUTHGATE_KEY_PEPPER`; ≥ 32 characters). */
  keyPepper?: string
  /**
   * Master key encrypting signing keys at rest (default `AUTHGATE_MASTER_KEY`; ≥ 32 characters);
   * without either, a SQLite store uses the key file `<database>.master-key` next to it (created
   * 0600 if missing, as by `authgate serve` and the CLI; refused if others can read it).
   */
  masterKey?: string
}

export interface JwtValidatorSelection {
  issuer?: string
  audience?: string | string[]
  tokenCacheSize?: number
}

export declare class ScalekitClient {
  /** A client of a Scalekit-compatible environment (authentication is lazy). */
  constructor(envUrl: string, clientId: string, clientSecret: string, options?: ScalekitOptions)
  /** An embedded client on `databaseUrl` (`sqlite:///path.db`, `postgres://…`). */
  static local(databaseUrl: string, options?: LocalOptions): ScalekitClient

  readonly token: TokenService
  readonly m2m: M2MClientService
  readonly organization: OrganizationService
  readonly user: UserService
  /** The audit log (an authgate extension). */
  readonly audit: AuditService
  /** `'remote'` or `'embedded'` (the same names in Python). */
  readonly mode: 'remote' | 'embedded'
  /** The remote options in effect; `null` for an embedded client. */
  readonly options: Required<ScalekitOptions> | null
  readonly issuer: string

  /**
   * Checks that the client can work; call it at start-up. Remote: fetches an environment access
   * token within `timeout` (refused credentials: `ScalekitUnauthorizedException` with code
   * `invalid_client`; unreachable: `ScalekitServiceUnavailableException`; no answer in time:
   * `ScalekitGatewayTimeoutException`). Embedded: reads the signing keys from the store.
   */
  check(): Promise<void>

  /** The (cached) validator of this environment's access tokens. */
  jwtValidator(options?: JwtValidatorSelection): JwtValidator
  /** Verifies a JWT access token and returns its claims (not an API key: see `token.validateToken`). */
  validateToken<T extends object = JwtClaims>(token: string, options?: TokenValidationOptions): Promise<T>
  validateAccessToken(token: string, options?: TokenValidationOptions): Promise<boolean>
  /** True when the (verified) token grants every scope; throws otherwise. */
  verifyScopes(token: string, requiredScopes: string[]): boolean
  generateClientToken(clientId: string, clientSecret: string, options?: { scopes?: string[] }): Promise<string>
  getClientAccessToken(): Promise<string>
}

export { ScalekitClient as Scalekit }
export default ScalekitClient

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

export declare class ScalekitException extends Error {
  /** authgate's stable snake_case code (`token_validation_failed`, `not_found`, …). */
  code: string
}

export declare class ScalekitValidateTokenFailureException extends ScalekitException {
  /** 401, or 403 for `insufficient_scope`. */
  httpStatus: number
  /** For `insufficient_scope`: the scopes the token lacks. */
  missingScopes: string[]
  /** The RFC 6750 `WWW-Authenticate` challenge answering this failure (the core's, as the server sends). */
  wwwAuthenticate: string
}

/** A valid token without the required scopes (`code === 'insufficient_scope'`): answer 403. */
export declare class ScalekitInsufficientScopeException extends ScalekitValidateTokenFailureException {}

export declare class ScalekitServerException extends ScalekitException {
  httpStatus: number
  grpcStatus: number
  errorCode: string
  errDetails: Array<{ field?: string }>
  /** For `invalid_argument`: the offending field. */
  field?: string
  readonly unpackedDetails: Array<{ errorCode: string; validationErrorInfo?: { fieldViolations: Array<{ field: string }> } }>
}

export declare class ScalekitBadRequestException extends ScalekitServerException {}
export declare class ScalekitUnauthorizedException extends ScalekitServerException {}
export declare class ScalekitForbiddenException extends ScalekitServerException {}
export declare class ScalekitNotFoundException extends ScalekitServerException {}
export declare class ScalekitConflictException extends ScalekitServerException {}
export declare class ScalekitTooManyRequestsException extends ScalekitServerException {}
/**
 * A valid API key over its `rateLimit` (`code === 'rate_limited'`): answer 429 with
 * `Retry-After: retryAfter`. Not a verdict on the key.
 */
export declare class ScalekitRateLimitedException extends ScalekitTooManyRequestsException {
  /** Seconds until the key's current window ends (at least 1). */
  retryAfter: number
}
export declare class ScalekitCancelledException extends ScalekitServerException {}
export declare class ScalekitInternalServerException extends ScalekitServerException {}
export declare class ScalekitNotImplementedException extends ScalekitServerException {}
export declare class ScalekitServiceUnavailableException extends ScalekitServerException {}
export declare class ScalekitGatewayTimeoutException extends ScalekitServerException {}
export declare class ScalekitUnknownException extends ScalekitServerException {}
/** JWT verification keys unavailable (JWKS unreachable past the stale window): answer 503. */
export declare class ScalekitKeysUnavailableException extends ScalekitServiceUnavailableException {}

/**
 * The address a request comes from, by the core's rule (the same as the server's and the Flask /
 * FastAPI adapters'): `peer` unless it is in `trustedProxies`, then the nearest `X-Forwarded-For`
 * entry that is not a trusted proxy. `null` when `peer` is not an IP address. Invalid
 * `trustedProxies` entries throw `ScalekitBadRequestException`.
 */
export declare function clientAddress(
  peer: string | null | undefined,
  forwardedFor?: string | string[] | null,
  trustedProxies?: string[] | null,
): string | null

/** Turns a native error into its exception class (identity for anything else). */
export declare function toScalekitError(err: unknown): unknown

/** The package version. */
export declare const version: string
