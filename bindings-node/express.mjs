// ES module entry point of `authgate/express`: the same functions as `express.js`.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const middleware = require('./express.js')

export const { setup, authenticateToken, requireScope, bearerToken } = middleware

export default middleware
