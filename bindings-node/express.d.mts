// Types of the ES module entry of `authgate/express` (`express.mjs`).
import * as middleware from './express.js'

export * from './express.js'
export default middleware
