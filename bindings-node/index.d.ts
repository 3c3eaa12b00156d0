// Type definitions of the `authgate` package (hand-written; the native loader's own types are in
// native.d.ts). Names and shapes follow the official Scalekit Node SDK (`@scalekit-sdk/node`).

// ---------------------------------------------------------------------------------------------
// Wire types
// ---------------------------------------------------------------------------------------------

/** An empty result (`google.protobuf.Empty`). */
export type Empty = Record<string, never>

/** Everything known about an API key (Scalekit's `Token` message). */
export interface Token {
  /** `apit_…`: the id for list/update/invalidate. Not a credential. */
  tokenId: string
  /** `org_…` */
  organizationId: string
  /** The organization's external id (`''` when it has none). */
  organizationExternalId: string
  /** Present only for user-scoped keys. */
  userId?: string
  /** The user's external id, for user-scoped keys. */
  userExternalId?: string
  /** Caller-defined claims. */
  customClaims: Record<string, string>
  /** When the key stops validating; absent = never. */
  expiry?: Date
  /** When the key was created. */
  createdAt: Date
  /** Free text. */
  description?: string
  /** The last four characters of the key. */
  tokenSuffix: string
  /** The user's email, for user-scoped keys. */
  email?: string
  /** The user's roles in the organization (RBAC). */
  roles: string[]
}

/** Alias: the metadata returned as `tokenInfo`. */
export type TokenInfo = Token

export interface CreateTokenOptions {
  /** Makes the key user-scoped (the user must be a member of the organization). */
  userId?: string
  /** Claims returned on every validation (≤ 20 pairs). */
  customClaims?: Record<string, string>
  /** When the key stops validating: a `Date`, an RFC 3339 string or Unix seconds. */
  expiry?: Date | string | number
  /** Free text (≤ 255 characters). */
  description?: string
}

export interface CreateTokenResponse {
  /** The plain API key. Show it once: it is never stored and cannot be retrieved. */
  token: string
  /** `apit_…` */
  tokenId: string
  tokenInfo: Token
}

export interface ValidateTokenResponse {
  tokenInfo: Token
}

export interface ListTokensOptions {
  /** Only keys of this user. */
  userId?: string
  /** Page size, 1–30 (default 10). */
  pageSize?: number
  /** `nextPageToken` / `prevPageToken` of a previous response. */
  pageToken?: string
}

export interface ListTokensResponse {
  tokens: Token[]
  totalCount: number
  /** `''` on the last page. */
  nextPageToken: string
  /** `''` on the first page. */
  prevPageToken: string
}

export interface UpdateTokenOptions {
  /** Replaces the whole claims map. */
  customClaims?: Record<string, string>
  /** Replaces the description; `''` clears it. */
  description?: string
}

export interface UpdateTokenResponse {
  tokenInfo: Token
}

/** A custom claim of an M2M client, as returned (`{key, value}` pairs). */
export interface CustomClaim {
  key: string
  value: string
}

/** `ClientSecret.status` values. */
export declare const ClientSecretStatus: { readonly ACTIVE: 0; readonly INACTIVE: 1 }
export type ClientSecretStatus = 0 | 1

export interface ClientSecret {
  /** `sks_…` */
  id: string
  createTime: Date
  updateTime: Date
  /** The last four characters of the plain secret. */
  secretSuffix: string
  createdBy?: string
  status: ClientSecretStatus
  expireTime?: Date
  lastUsedTime?: Date
}

/** An organization's M2M client (Scalekit's `M2MClient` message). */
export interface OrganizationM2MClient {
  /** `m2morg_…`: the OAuth `client_id`, also the `sub` of its tokens. */
  clientId: string
  secrets: ClientSecret[]
  name: string
  description: string
  /** `org_…` */
  organizationId: string
  createTime: Date
  updateTime: Date
  scopes: string[]
  audience: string[]
  customClaims: CustomClaim[]
  /** Access-token lifetime in seconds. */
  expiry: number
}

export interface OrganizationClientOptions {
  /** Display name (required on create, ≤ 128 characters). */
  name?: string
  description?: string
  /** Scopes the client may request (`resource:action`). */
  scopes?: string[]
  /** Audiences put in `aud` of its tokens. */
  audience?: string[]
  /** Claims copied into `custom_claims` of its tokens (replaced as a whole on update). */
  customClaims?: Record<string, string>
  /** Access-token lifetime in seconds (default 3600). */
  expiry?: number
}

export interface CreateOrganizationClientResponse {
  client: OrganizationM2MClient
  /** The first secret. Show it once. */
  plainSecret: string
}

export interface OrganizationClientResponse {
  client: OrganizationM2MClient
}

export type GetOrganizationClientResponse = OrganizationClientResponse
export type UpdateOrganizationClientResponse = OrganizationClientResponse

export interface ListOrganizationClientsOptions {
  pageSize?: number
  pageToken?: string
}

export interface ListOrganizationClientsResponse {
  nextPageToken: string
  totalSize: number
  clients: OrganizationM2MClient[]
  prevPageToken: string
}

export interface CreateOrganizationClientSecretResponse {
  /** The new secret. Show it once. */
  plainSecret: string
  secret: ClientSecret
}

export interface Organization {
  /** `org_…` */
  id: string
  displayName: string
  externalId?: string
  createTime: Date
  updateTime: Date
}

export interface CreateOrganizationOptions {
  /** A unique identifier of your own. */
  externalId?: string
}

export interface OrganizationResponse {
  organization: Organization
}

export type CreateOrganizationResponse = OrganizationResponse
export type GetOrganizationResponse = OrganizationResponse

export interface ListOrganizationsOptions {
  /** 1–100 (default 10). */
  pageSize?: number
  pageToken?: string
  /** Only the organization with this external id. */
  externalId?: string
}

export interface ListOrganizationsResponse {
  nextPageToken: string
  totalSize: number
  organizations: Organization[]
  prevPageToken: string
}

export interface Role {
  name: string
}

export interface OrganizationMembership {
  organizationId: string
  roles: Role[]
}

export interface User {
  /** `usr_…` */
  id: string
  email: string
  externalId?: string
  memberships: OrganizationMembership[]
  createTime: Date
  updateTime: Date
}

export interface CreateUserAndMembershipOptions {
  email: string
  externalId?: string
  /** Role names in the organization (they appear in `tokenInfo.roles` of the user's keys). */
  roles?: string[]
  /** The official SDK's shape for roles; `roles` wins when both are given. */
  membership?: { roles?: string[] }
}

export interface CreateUserAndMembershipResponse {
  user: User
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
}

export interface JwtValidatorOptions {
  /** A fixed JWK Set (object or JSON text), never refetched. */
  jwks?: { keys: object[] } | string
  /** JWK Set URL (`https`, or `http` to loopback). Without it, keys come from OpenID discovery of `issuer`. */
  jwksUrl?: string
  /** Required `iss`, compared exactly. */
  issuer?: string
  /** Accepted audiences. */
  audience?: string | string[]
  /** Accepted algorithms (default RS256, PS256, ES256, EdDSA; symmetric ones are refused). */
  algorithms?: string[]
  /** Clock skew tolerated on `exp`/`nbf`, seconds (default 60). */
  leeway?: number
  /** Alias of `leeway`. */
  clockTolerance?: number
  /** Largest accepted token in bytes (default 8192). */
  maxTokenSize?: number
  /** Required header `typ`, e.g. `'at+jwt'`. */
  typ?: string
  /** Claims scopes are read from (default `scopes`, `scope`, `scp`, `permissions`). */
  scopeClaims?: string[]
  /** Scopes every token must carry. */
  requiredScopes?: string[]
  /** How `requiredScopes` match (default `'all'`). */
  scopeMatch?: 'all' | 'any'
  /** Capacity of the verified-token cache; 0 disables it (default 10000). */
  tokenCacheSize?: number
  /** JWKS TTL without `Cache-Control`, seconds (default 300). */
  jwksTtl?: number
  /** Minimum seconds between fetches for unknown `kid`s (default 30). */
  jwksCooldown?: number
  /** Seconds expired keys keep serving while the JWKS endpoint fails (default 3600). */
  jwksStaleIfError?: number
  /** Timeout of one JWKS fetch, seconds (default 5). */
  jwksFetchTimeout?: number
  /** Allow plain `http` JWKS URLs to non-loopback hosts. Dangerous. */
  dangerousAllowInsecureHttp?: boolean
  /** Validate as if it were this time (Unix seconds). For tests only: a frozen clock accepts expired tokens. */
  dangerousNow?: number
}

export interface JwksStatus {
  source: string
  keyCount: number
  kids: string[]
  rejectedKeys: number
  fresh: boolean
  stale: boolean
  coolingDown: boolean
  fetching: boolean
  fetchCount: number
  failureCount: number
  consecutiveFailures: number
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

export interface ClientCredentialsOptions {
  /** The token endpoint; or give `envUrl`. */
  tokenUrl?: string
  /** A Scalekit-compatible environment: the endpoint is `{envUrl}/oauth/token`. */
  envUrl?: string
  clientId: string
  clientSecret: string
  /** Scopes to request (default: the client's). */
  scopes?: string[]
  /** Extra form parameters (e.g. `audience`). */
  extraParams?: Record<string, string>
  /** Default `'client_secret_post'`. */
  authMethod?: 'client_secret_post' | 'client_secret_basic'
  /** Request timeout in seconds (default 10). */
  timeout?: number
  /** Fraction of the lifetime after which a refresh starts (default 0.8). */
  refreshRatio?: number
  /** Allow plain `http` to non-loopback hosts. Dangerous. */
  dangerousAllowInsecureHttp?: boolean
}

export interface ClientAccessToken {
  accessToken: string
  tokenType: string
  expiresAt: Date
  /** Seconds left. */
  expiresIn: number
  /** Granted scopes, space-separated. */
  scope: string
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

export declare class TokenClient {
  createToken(organizationId: string, options?: CreateTokenOptions): Promise<CreateTokenResponse>
  validateToken(token: string): Promise<ValidateTokenResponse>
  listTokens(organizationId: string, options?: ListTokensOptions): Promise<ListTokensResponse>
  invalidateToken(token: string): Promise<Empty>
  updateToken(token: string, options?: UpdateTokenOptions): Promise<UpdateTokenResponse>
}

export declare class M2MClient {
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

export declare class OrganizationClient {
  createOrganization(name: string, options?: CreateOrganizationOptions): Promise<CreateOrganizationResponse>
  getOrganization(id: string): Promise<GetOrganizationResponse>
  listOrganization(options?: ListOrganizationsOptions): Promise<ListOrganizationsResponse>
  deleteOrganization(id: string): Promise<Empty>
}

export declare class UserClient {
  createUserAndMembership(organizationId: string, options: CreateUserAndMembershipOptions): Promise<CreateUserAndMembershipResponse>
}

export interface ScalekitOptions {
  /** Timeout of one request in milliseconds (default 10000). */
  timeoutMs?: number
  /** Retries of idempotent calls on 503/timeouts (default 2). */
  maxRetries?: number
  /** Allow plain `http://` to hosts other than loopback. Dangerous. */
  dangerousAllowInsecureHttp?: boolean
}

export interface LocalOptions {
  /** `iss` of the tokens it issues (default `AUTHGATE_ISSUER`, else `http://localhost`). */
  issuer?: string
  /** Pepper of key digests (default `AUTHGATE_KEY_PEPPER`; ≥ 32 characters). */
  keyPepper?: string
  /** Master key encrypting signing keys at rest (default `AUTHGATE_MASTER_KEY`; ≥ 32 characters). */
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

  readonly token: TokenClient
  readonly m2m: M2MClient
  readonly organization: OrganizationClient
  readonly user: UserClient
  readonly mode: 'remote' | 'local'
  readonly issuer: string

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
export declare class ScalekitCancelledException extends ScalekitServerException {}
export declare class ScalekitInternalServerException extends ScalekitServerException {}
export declare class ScalekitNotImplementedException extends ScalekitServerException {}
export declare class ScalekitServiceUnavailableException extends ScalekitServerException {}
export declare class ScalekitGatewayTimeoutException extends ScalekitServerException {}
export declare class ScalekitUnknownException extends ScalekitServerException {}
/** JWT verification keys unavailable (JWKS unreachable past the stale window): answer 503. */
export declare class ScalekitKeysUnavailableException extends ScalekitServiceUnavailableException {}

/** Turns a native error into its exception class (identity for anything else). */
export declare function toScalekitError(err: unknown): unknown

/** The package version. */
export declare const version: string
