// Types of the ES module entry (`index.mjs`): the CommonJS declarations, with the client as the
// default export.
import { ScalekitClient } from './index.js'

export * from './index.js'
export default ScalekitClient
