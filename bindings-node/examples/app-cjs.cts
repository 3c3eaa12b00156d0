// The same package from CommonJS TypeScript (`require`).
import authgate = require('authgate')
import middleware = require('authgate/express')

const client: authgate.ScalekitClient = new authgate.ScalekitClient('https://auth.example.com', 'id', 'secret')
middleware.setup(client)
const guard = middleware.requireScope('a:b', { any: false })
const err: authgate.ScalekitException = new authgate.ScalekitValidateTokenFailureException('x')
console.log(guard, err.code, authgate.version)
