// ES module entry point of `authgate/express`: the same functions as `express.js`.
import middleware from './express.js'

export * from './express.js'
export default middleware
