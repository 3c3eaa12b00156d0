// ES module entry point: the same objects as the CommonJS entry (`index.js`), whose export
// list Node reads for the named exports; the client is the default export.
import authgate from './index.js'

export * from './index.js'
export default authgate.ScalekitClient
