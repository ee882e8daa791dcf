// Upload driver for bench/run-upload.sh: Depot's native resumable-upload API (/v1/_uploads), a plain streamed PUT,
// and an interrupted-then-resumed upload (native or tus). Plain Node 20 (node:http with a keep-alive agent, node:fs
// file handles; no npm packages). The file is read with positional reads into one chunk buffer per connection,
// never into memory whole. Prints one line "VALUE extra..." (the kit's bench_value convention); any unexpected
// answer prints the request, status and body to stderr and exits 1.
//
//   node upload.mjs --mode chunks --base URL --file F --key K [--chunk-size 8388608] [--parallel 1] [--sha256 HEX]
//        POST /v1/_uploads, PUT .../chunks/{i} (PARALLEL connections), POST .../complete      -> MB/s
//   node upload.mjs --mode put --base URL --file F --key K [--sha256 HEX]
//        one PUT /v1/{bucket}/{key}, Content-Length set, body streamed from the file              -> MB/s
//   node upload.mjs --mode resume --base URL --file F --key K [--chunk-size ..] [--parallel ..] [--at 0.9]
//        sends chunks until AT of the file's bytes went out, cuts every open connection (mid-chunk), then, as a
//        new client would: GET /v1/_uploads/{id}, sends only the chunks not in receivedChunks, completes
//                                                 -> bytes sent after the interruption, % of the file
//   node upload.mjs --mode tus-resume --endpoint TUS_URL --file F [--chunk-size N | 0 = one PATCH] [--at 0.9]
//        [--tus-key K --base URL]  tus 1.0: POST, PATCHes until AT, cut; HEAD -> Upload-Offset; PATCH the rest
//                                                 -> bytes sent after the interruption, % of the file
// Common: --bucket default, --keep (do not delete the object / tus upload afterwards), --pause-ms 500 (between the
// interruption and the resume: a client noticing the failure and reconnecting), --target-chunk 8388608 (the "one
// chunk" of the resume target "10% + one chunk", shown next to the result).
// BENCH_AUTH="Name: value" is sent with every request (as the kit's tus/client.mjs does).
// After each upload the published object's size and SHA-256 (from Depot's answer) are checked against the file
// (--sha256); then it is deleted (DELETE /v1/{bucket}/{key}) so the next run writes into recycled memory.
import http from 'node:http'
import fs from 'node:fs'
import { parseArgs } from 'node:util'

const { values: a } = parseArgs({
  options: {
    mode: { type: 'string', default: 'chunks' },
    base: { type: 'string' },
    endpoint: { type: 'string' },
    file: { type: 'string' },
    key: { type: 'string' },
    'tus-key': { type: 'string' },
    bucket: { type: 'string', default: 'default' },
    'chunk-size': { type: 'string', default: String(8 * 1048576) },
    parallel: { type: 'string', default: '1' },
    sha256: { type: 'string' },
    at: { type: 'string', default: '0.9' },
    'pause-ms': { type: 'string', default: '500' },
    keep: { type: 'boolean', default: false },
    'target-chunk': { type: 'string', default: String(8 * 1048576) },
  },
})
if (!a.file) fail('--file is required')
const size = fs.statSync(a.file).size
const chunkSize = Number(a['chunk-size'])
const parallel = Math.max(1, Number(a.parallel))
const at = Number(a.at)
const auth = process.env.BENCH_AUTH ? Object.fromEntries([process.env.BENCH_AUTH.split(/:\s*(.*)/s).slice(0, 2)]) : {}
const SLICE = 1048576 // body writes of 1 MiB (respecting back-pressure)
const MiB = (b) => (b / 1048576).toFixed(1)

function fail(msg) {
  console.error(`error: ${msg}`)
  process.exit(1)
}

// --- HTTP ----------------------------------------------------------------------------------------------------
let agent = new http.Agent({ keepAlive: true, maxSockets: parallel + 2 })

// request(method, url, {headers, body: Buffer|null, file: {fh, offset, length}, cut}) -> {status, headers, text}
// A file range is written in 1 MiB slices; cut(n) is asked before each slice and may return a smaller count to
// send (then the connection is destroyed: the interruption). Resolves {cut: true} for a cut request.
function request(method, url, opts = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url)
    const headers = { ...auth, ...(opts.headers || {}) }
    const len = opts.body ? opts.body.length : opts.file ? opts.file.length : 0
    if (opts.body || opts.file || method === 'PUT' || method === 'PATCH' || method === 'POST') headers['Content-Length'] = len
    const req = http.request({ method, host: u.hostname, port: u.port, path: u.pathname + u.search, headers, agent })
    let cut = false
    req.on('error', (e) => (cut ? resolve({ cut: true }) : reject(new Error(`${method} ${url}: ${e.message}`))))
    req.on('response', (res) => {
      const parts = []
      res.on('data', (d) => parts.push(d))
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(parts).toString() }))
      res.on('error', (e) => (cut ? resolve({ cut: true }) : reject(e)))
    })
    if (opts.body) return req.end(opts.body)
    if (!opts.file) return req.end()
    const { fh, offset, length, buf } = opts.file
    ;(async () => {
      for (let done = 0; done < length; ) {
        const want = Math.min(SLICE, length - done)
        const n = opts.cut ? opts.cut(want) : want
        if (n > 0) {
          const slice = buf ? buf.subarray(done, done + n) : Buffer.allocUnsafe(n)
          if (!buf) await readFully(fh, slice, n, offset + done)
          done += n
          if (!req.write(slice)) await new Promise((r) => req.once('drain', r))
        }
        if (n < want) {
          // the interruption: the connection drops in the middle of the body
          cut = true
          req.destroy()
          return resolve({ cut: true })
        }
      }
      req.end()
    })().catch((e) => reject(e))
  })
}

function expect(r, method, url, ...ok) {
  if (r.cut || ok.includes(r.status)) return r
  fail(`${method} ${url} -> ${r.status} ${r.text?.slice(0, 2000)}`)
}

async function json(method, path, body, ...ok) {
  const url = a.base + path
  const r = await request(method, url, body === undefined ? {} : {
    headers: { 'Content-Type': 'application/json' },
    body: Buffer.from(JSON.stringify(body)),
  })
  expect(r, method, url, ...ok)
  try {
    return r.text ? JSON.parse(r.text) : {}
  } catch {
    fail(`${method} ${url} -> ${r.status}, not JSON: ${r.text.slice(0, 500)}`)
  }
}

async function readFully(fh, buf, length, position) {
  for (let got = 0; got < length; ) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got)
    if (bytesRead === 0) fail(`short read of ${a.file} at ${position + got}`)
    got += bytesRead
  }
}

// --- native sessions ------------------------------------------------------------------------------------------
const count = Math.ceil(size / chunkSize)
const chunkLen = (i) => Math.min(chunkSize, size - i * chunkSize)

async function createSession() {
  if (!a.base || !a.key) fail('--base and --key are required')
  const s = await json('POST', '/v1/_uploads', { bucket: a.bucket, key: a.key, length: size, chunkSize }, 201)
  if (!s.id) fail(`POST /v1/_uploads answered no id: ${JSON.stringify(s)}`)
  return s.id
}

// sendChunks(id, indices, cut) with PARALLEL connections; each connection owns one chunk buffer.
async function sendChunks(fh, id, indices, cut) {
  let next = 0
  let stopped = false
  await Promise.all(
    Array.from({ length: Math.min(parallel, indices.length) }, async () => {
      const buf = Buffer.allocUnsafe(chunkSize)
      while (!stopped && next < indices.length) {
        const i = indices[next++]
        const len = chunkLen(i)
        await readFully(fh, buf, len, i * chunkSize)
        const url = `${a.base}/v1/_uploads/${id}/chunks/${i}`
        const r = await request('PUT', url, {
          headers: { 'Content-Type': 'application/octet-stream' },
          file: { fh, offset: i * chunkSize, length: len, buf },
          cut,
        })
        if (r.cut) { stopped = true; return }
        expect(r, 'PUT', url, 200)
      }
    }),
  )
}

async function complete(id) {
  const done = await json('POST', `/v1/_uploads/${id}/complete`, undefined, 200)
  checkObject(done.object, `POST /v1/_uploads/${id}/complete`)
  return done
}

function checkObject(o, what) {
  if (!o) fail(`${what}: no object in the answer`)
  if (o.size !== undefined && o.size !== size) fail(`${what}: object size ${o.size} != ${size}`)
  if (a.sha256 && o.sha256 && o.sha256.toLowerCase() !== a.sha256.toLowerCase())
    fail(`${what}: object sha256 ${o.sha256} != file ${a.sha256}`)
  if (a.sha256 && !o.sha256) console.error(`warning: ${what}: no sha256 in the answer, not verified`)
}

async function deleteObject() {
  if (a.keep || !a.base) return
  const key = a.key ?? a['tus-key']
  const url = `${a.base}/v1/${a.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`
  const r = await request('DELETE', url)
  if (r.status >= 300) console.error(`warning: DELETE ${url} -> ${r.status} ${r.text.slice(0, 300)}`)
}

const fh = await fs.promises.open(a.file, 'r')
const t0 = performance.now()
const secs = (t) => (performance.now() - t) / 1000

if (a.mode === 'chunks') {
  const id = await createSession()
  await sendChunks(fh, id, Array.from({ length: count }, (_, i) => i))
  await complete(id)
  const s = secs(t0)
  await deleteObject()
  console.log(`${(size / 1e6 / s).toFixed(3)} ${s.toFixed(3)}s, ${count} chunks of ${MiB(chunkSize)} MiB, ${parallel} connection(s)`)
} else if (a.mode === 'put') {
  if (!a.base || !a.key) fail('--base and --key are required')
  const path = `/v1/${a.bucket}/${a.key.split('/').map(encodeURIComponent).join('/')}`
  const r = await new Promise((resolve, reject) => {
    const req = http.request({
      method: 'PUT', host: new URL(a.base).hostname, port: new URL(a.base).port, path, agent,
      headers: { ...auth, 'Content-Length': size, 'Content-Type': 'application/octet-stream' },
    })
    req.on('error', reject)
    req.on('response', (res) => {
      const parts = []
      res.on('data', (d) => parts.push(d))
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(parts).toString() }))
    })
    fs.createReadStream(null, { fd: fh, autoClose: false, start: 0, highWaterMark: SLICE }).pipe(req)
  })
  const s = secs(t0)
  expect(r, 'PUT', a.base + path, 200, 201)
  let o = null
  try { o = JSON.parse(r.text) } catch { console.error(`warning: PUT answered no JSON; not verified`) }
  if (o) checkObject(o.object ?? o, `PUT ${path}`)
  await deleteObject()
  console.log(`${(size / 1e6 / s).toFixed(3)} ${s.toFixed(3)}s, one request, body streamed from the file`)
} else if (a.mode === 'resume') {
  const id = await createSession()
  const stopAt = Math.floor(size * at)
  let sent = 0
  const cut = (n) => {
    const allow = Math.max(0, Math.min(n, stopAt - sent))
    sent += allow
    return allow
  }
  await sendChunks(fh, id, Array.from({ length: count }, (_, i) => i), cut)
  const t1 = performance.now()
  if (sent < stopAt) fail(`the upload finished before the interruption point (${sent} < ${stopAt})`)
  agent.destroy() // the old connections are gone: a new client resumes
  agent = new http.Agent({ keepAlive: true, maxSockets: parallel + 2 })
  await new Promise((r) => setTimeout(r, Number(a['pause-ms'])))
  const t2 = performance.now()
  const st = await json('GET', `/v1/_uploads/${id}`, undefined, 200)
  if (!Array.isArray(st.receivedChunks)) fail(`GET /v1/_uploads/${id}: no receivedChunks: ${JSON.stringify(st).slice(0, 500)}`)
  const have = new Set(st.receivedChunks)
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !have.has(i))
  const resent = missing.reduce((s, i) => s + chunkLen(i), 0)
  await sendChunks(fh, id, missing)
  await complete(id)
  const resumeS = secs(t2)
  await deleteObject()
  const pct = (resent / size) * 100
  const limit = ((0.1 * size + Number(a['target-chunk'])) / size) * 100
  console.log(
    `${pct.toFixed(3)} resent ${MiB(resent)} MiB = ${missing.length} of ${count} chunks (limit 10% + 1 chunk = ${limit.toFixed(2)}%); ` +
      `cut after ${MiB(sent)} MiB sent (${(at * 100).toFixed(0)}%, ${parallel} connection(s)) in ${((t1 - t0) / 1000).toFixed(2)} s; ` +
      `GET then: ${have.size} chunks, bytesReceived ${MiB(st.bytesReceived ?? 0)} MiB, offset ${MiB(st.offset ?? 0)} MiB; ` +
      `resume (GET + ${missing.length} chunks + complete) ${resumeS.toFixed(2)} s`,
  )
} else if (a.mode === 'tus-resume') {
  if (!a.endpoint) fail('--endpoint is required')
  const tus = { 'Tus-Resumable': '1.0.0' }
  const b64 = (s) => Buffer.from(s).toString('base64')
  const meta = [`filename ${b64('resume.bin')}`]
  if (a['tus-key']) meta.push(`key ${b64(a['tus-key'])}`)
  const created = await request('POST', a.endpoint, {
    headers: { ...tus, 'Upload-Length': String(size), 'Upload-Metadata': meta.join(',') },
  })
  expect(created, 'POST', a.endpoint, 201)
  const url = new URL(created.headers.location, a.endpoint).toString()
  const per = chunkSize > 0 ? chunkSize : size
  const stopAt = Math.floor(size * at)
  let sent = 0
  const cut = (n) => {
    const allow = Math.max(0, Math.min(n, stopAt - sent))
    sent += allow
    return allow
  }
  const patchFrom = async (offset, cutFn) => {
    while (offset < size) {
      const length = Math.min(per, size - offset)
      const r = await request('PATCH', url, {
        headers: { ...tus, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' },
        file: { fh, offset, length },
        cut: cutFn,
      })
      if (r.cut) return -1
      expect(r, 'PATCH', url, 204)
      const next = Number(r.headers['upload-offset'])
      if (next !== offset + length) fail(`PATCH ${url} at ${offset}: Upload-Offset ${r.headers['upload-offset']} != ${offset + length}`)
      offset = next
    }
    return offset
  }
  if ((await patchFrom(0, cut)) !== -1) fail('the upload finished before the interruption point')
  const t1 = performance.now()
  agent.destroy()
  agent = new http.Agent({ keepAlive: true, maxSockets: 2 })
  await new Promise((r) => setTimeout(r, Number(a['pause-ms'])))
  const t2 = performance.now()
  const head = expect(await request('HEAD', url, { headers: tus }), 'HEAD', url, 200)
  const offset = Number(head.headers['upload-offset'])
  if (!Number.isFinite(offset)) fail(`HEAD ${url}: no Upload-Offset`)
  const resent = size - offset
  await patchFrom(offset)
  const resumeS = secs(t2)
  const last = expect(await request('HEAD', url, { headers: tus }), 'HEAD', url, 200)
  if (Number(last.headers['upload-offset']) !== size) fail(`HEAD ${url}: Upload-Offset ${last.headers['upload-offset']} != ${size}`)
  if (!a.keep) {
    const d = await request('DELETE', url, { headers: tus })
    if (d.status >= 300) console.error(`warning: DELETE ${url} -> ${d.status}`)
    if (a['tus-key']) await deleteObject()
  }
  const pct = (resent / size) * 100
  const limit = ((0.1 * size + Number(a['target-chunk'])) / size) * 100
  console.log(
    `${pct.toFixed(3)} resent ${MiB(resent)} MiB (limit 10% + 1 chunk = ${limit.toFixed(2)}%); ` +
      `cut after ${MiB(sent)} MiB sent (${(at * 100).toFixed(0)}%, ${chunkSize > 0 ? `PATCHes of ${MiB(per)} MiB` : 'one PATCH'}) in ${((t1 - t0) / 1000).toFixed(2)} s; ` +
      `HEAD then: Upload-Offset ${MiB(offset)} MiB; resume (HEAD + PATCHes) ${resumeS.toFixed(2)} s`,
  )
} else {
  fail(`unknown --mode ${a.mode}`)
}
await fh.close()
agent.destroy()
