// A typed sample app (checked with `tsc --noEmit --strict`, never run by the tests): the whole
// public surface as an application would use it, in ESM.
import express, { type Request, type Response } from 'express'
import ScalekitDefault, {
  ScalekitClient,
  Scalekit,
  JwtValidator,
  ClientCredentials,
  ClientSecretStatus,
  ScalekitException,
  ScalekitValidateTokenFailureException,
  ScalekitServerException,
  ScalekitNotFoundException,
  ScalekitKeysUnavailableException,
  type Token,
  type JwtClaims,
  type CreateTokenResponse,
  type ListTokensResponse,
  type OrganizationM2MClient,
} from 'authgate'
import { setup, authenticateToken, requireScope, bearerToken } from 'authgate/express'

const scalekit: ScalekitClient = new ScalekitClient(
  process.env.SCALEKIT_ENVIRONMENT_URL ?? 'http://127.0.0.1:8080',
  process.env.SCALEKIT_CLIENT_ID ?? 'skc_1',
  process.env.SCALEKIT_CLIENT_SECRET ?? 'secret',
  { timeout: 5, retries: 1 },
)
const embedded: ScalekitClient = ScalekitClient.local('sqlite:///tmp/app.db', { issuer: 'https://auth.example.com' })
const alias: typeof ScalekitClient = Scalekit
const fromDefault: ScalekitClient = new ScalekitDefault('https://auth.example.com', 'id', 'secret')
const mode: 'remote' | 'embedded' = embedded.mode

async function keys(organizationId: string): Promise<void> {
  const created: CreateTokenResponse = await scalekit.token.createToken(organizationId, {
    userId: 'usr_1',
    customClaims: { team: 'engineering' },
    expiry: new Date(Date.now() + 86_400_000),
    description: 'CI',
  })
  const info: Token = created.tokenInfo
  const expires: Date | undefined = info.expiry
  const created_at: Date = info.createdAt
  const page: ListTokensResponse = await scalekit.token.listTokens(organizationId, { pageSize: 10, userId: 'usr_1' })
  if (page.nextPageToken) await scalekit.token.listTokens(organizationId, { pageToken: page.nextPageToken })
  await scalekit.token.updateToken(created.tokenId, { customClaims: { team: 'platform' }, description: '' })
  try {
    const { tokenInfo } = await scalekit.token.validateToken(created.token)
    const roles: string[] = tokenInfo.roles
    console.log(tokenInfo.organizationId, tokenInfo.userId ?? '-', roles, expires, created_at)
  } catch (error) {
    if (error instanceof ScalekitValidateTokenFailureException) console.log(error.code, error.httpStatus)
    else if (error instanceof ScalekitServerException) console.log(error.httpStatus, error.grpcStatus, error.errorCode)
    else throw error
  }
  await scalekit.token.invalidateToken(created.token)
}

async function clients(organizationId: string): Promise<string> {
  const { client, plainSecret } = await scalekit.m2m.createOrganizationClient(organizationId, {
    name: 'deployer',
    description: 'Deploys',
    scopes: ['deploy:write'],
    audience: ['api'],
    customClaims: { env: 'prod' },
    expiry: 3600,
  })
  const c: OrganizationM2MClient = (await scalekit.m2m.getOrganizationClient(organizationId, client.clientId)).client
  const active: boolean = c.secrets[0]?.status === ClientSecretStatus.ACTIVE
  await scalekit.m2m.updateOrganizationClient(organizationId, client.clientId, { scopes: ['deploy:read'] })
  const { clients: all, totalSize } = await scalekit.m2m.listOrganizationClients(organizationId, { pageSize: 20 })
  const secret = await scalekit.m2m.addOrganizationClientSecret(organizationId, client.clientId)
  await scalekit.m2m.removeOrganizationClientSecret(organizationId, client.clientId, secret.secret.id)
  await scalekit.m2m.deleteOrganizationClient(organizationId, client.clientId)
  console.log(active, all.length, totalSize)
  return plainSecret
}

async function organizations(): Promise<void> {
  const { organization } = await scalekit.organization.createOrganization('Acme', { externalId: 'acme' })
  await scalekit.organization.getOrganization(organization.id)
  const list = await scalekit.organization.listOrganization({ pageSize: 10 })
  const { user } = await scalekit.user.createUserAndMembership(organization.id, { email: 'a@b.c', roles: ['admin'] })
  console.log(list.organizations.map((o) => o.displayName), user.memberships[0]?.roles.map((r) => r.name))
  try {
    await scalekit.organization.deleteOrganization(organization.id)
  } catch (e) {
    if (e instanceof ScalekitNotFoundException) console.log('gone')
  }
}

async function jwts(clientId: string, clientSecret: string): Promise<void> {
  const token: string = await scalekit.generateClientToken(clientId, clientSecret, { scopes: ['deploy:write'] })
  const claims: JwtClaims = await scalekit.validateToken(token, { requiredScopes: ['deploy:write'], audience: ['api'] })
  interface MyClaims { sub: string; oid: string; scopes: string[] }
  const mine: MyClaims = await scalekit.validateToken<MyClaims>(token)
  const ok: boolean = await scalekit.validateAccessToken(token)
  const scoped: boolean = scalekit.verifyScopes(token, ['deploy:write'])
  const own: string = await scalekit.getClientAccessToken()
  console.log(claims.exp, claims.scopes, mine.oid, ok, scoped, own.length)

  const validator = new JwtValidator({ issuer: 'https://idp.example.com', audience: 'api', algorithms: ['RS256'], leeway: 30 })
  await validator.refresh()
  const c1: JwtClaims = validator.validateSync(token, { requiredScopes: ['a', 'b'], any: true })
  const c2: JwtClaims | undefined = validator.tryValidate(token)
  const c3: JwtClaims = await validator.validate(token)
  const scopes: string[] = validator.grantedScopes(token)
  console.log(c1.sub, c2?.sub, c3.iss, scopes, validator.status().keyCount, validator.issuer)

  const credentials = new ClientCredentials({ envUrl: 'https://auth.example.com', clientId, clientSecret, scopes: ['deploy:write'] })
  const header: string = await credentials.authorizationHeader()
  const info = await credentials.getTokenInfo()
  const at: Date = info.expiresAt
  console.log(header.length, at, credentials.cached()?.scope)
  credentials.invalidate()
}

// At start-up: wrong credentials or an unreachable environment fail here, not on the first request.
async function startup(): Promise<void> {
  await scalekit.check()
}

setup(scalekit)
const app = express()
app.get('/api/resources', authenticateToken, (req: Request, res: Response) => {
  const { organizationId, userId } = req.tokenInfo!
  res.json({ organizationId, userId })
})
app.get('/api/explicit', authenticateToken(scalekit), (req: Request, res: Response) => {
  res.json({ org: req.tokenInfo?.organizationId })
})
app.post('/deploy', requireScope('deploy:write'), (req: Request, res: Response) => {
  res.json({ client: req.tokenClaims?.sub, org: req.tokenClaims?.oid })
})
app.get(
  '/reports',
  requireScope(['reports:read', 'admin'], { any: true, client: scalekit, audience: 'api' }),
  (req: Request, res: Response) => {
    res.json({ token: bearerToken(req), claims: req.tokenClaims })
  },
)
app.use((err: unknown, _req: Request, res: Response, _next: express.NextFunction) => {
  if (err instanceof ScalekitKeysUnavailableException) res.status(503).end()
  else if (err instanceof ScalekitException) res.status(500).json({ code: err.code })
  else res.status(500).end()
})

void keys
void clients
void organizations
void jwts
void startup
console.log(alias, fromDefault, mode)
