// The Express app of the benchmark, in its own process so the load generator does not share its
// event loop. Reports its URL to the parent over IPC.
import express from 'express'
import { ScalekitClient, JwtValidator } from 'authgate'
import { requireScope } from 'authgate/express'

const url = process.env.AUTHGATE_URL
const scalekit = new ScalekitClient(url, process.env.AUTHGATE_CLIENT_ID, process.env.AUTHGATE_CLIENT_SECRET)
const noCache = new JwtValidator({ jwksUrl: `${url}/keys`, issuer: url, tokenCacheSize: 0 })

const app = express()
app.get('/plain', (req, res) => res.json({ ok: true }))
app.get('/guarded', requireScope('orders:read', { client: scalekit }), (req, res) => res.json({ ok: true, sub: req.tokenClaims.sub }))
app.get('/guarded-nocache', requireScope('orders:read', { validator: noCache }), (req, res) =>
  res.json({ ok: true, sub: req.tokenClaims.sub }),
)

const server = app.listen(0, '127.0.0.1', () => {
  process.send({ url: `http://127.0.0.1:${server.address().port}` })
})
process.on('disconnect', () => process.exit(0))
