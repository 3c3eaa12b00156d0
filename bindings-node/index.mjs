// ES module entry point: the same objects as the CommonJS entry (`index.js`).
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const authgate = require('./index.js')

export const {
  ScalekitClient,
  Scalekit,
  JwtValidator,
  ClientCredentials,
  TokenClient,
  M2MClient,
  OrganizationClient,
  UserClient,
  ClientSecretStatus,
  ScalekitException,
  ScalekitValidateTokenFailureException,
  ScalekitInsufficientScopeException,
  ScalekitServerException,
  ScalekitBadRequestException,
  ScalekitUnauthorizedException,
  ScalekitForbiddenException,
  ScalekitNotFoundException,
  ScalekitConflictException,
  ScalekitTooManyRequestsException,
  ScalekitCancelledException,
  ScalekitInternalServerException,
  ScalekitNotImplementedException,
  ScalekitServiceUnavailableException,
  ScalekitGatewayTimeoutException,
  ScalekitUnknownException,
  ScalekitKeysUnavailableException,
  toScalekitError,
  version,
} = authgate

export default authgate.ScalekitClient
