// Drives the real tus-js-client (npm) against a tus server and prints one JSON line with the outcome.
//
//   node tus-driver.mjs '<json>'
//
// The JSON argument:
//   endpoint         creation URL, e.g. http://127.0.0.1:5000/tus/ (required)
//   key              API key sent as "Authorization: Bearer <key>"
//   file             path of the file to upload (required)
//   chunkSize        bytes per PATCH (default: the whole rest in one PATCH)
//   parallelUploads  number of partial uploads concatenated at the end (default 1)
//   metadata         Upload-Metadata pairs (strings)
//   abortAfterBytes  abort the upload once this many body bytes have been handed to the socket in this run
//   urlStorage       path of a JSON file where upload URLs are remembered by file fingerprint
//   resume           true: look the file up in urlStorage (findPreviousUploads) and resume the first upload found
//   uploadUrl        resume this upload URL (HEAD, then PATCH from its offset)
//   checksum         "sha1" | "md5" | "sha256": send Upload-Checksum with each PATCH, computed from the file
//   corruptChecksum  send a wrong Upload-Checksum (to see 460)
//   deferLength      create with Upload-Defer-Length: 1 (the file is then read as a plain stream)
//   uploadDataDuringCreation  send the first chunk with the POST (creation-with-upload)
//   overridePatchMethod       send PATCH as POST + X-HTTP-Method-Override
//   retryDelays      tus-js-client retry delays in ms (default [0, 100, 300]); null disables retries
//
// The result line: { ok, url, status, error, body, aborted, bytesSent, bytesAcknowledged, requests }
//   status, body       the HTTP status and body of the answer that failed the upload (when one did)
//   bytesSent          body bytes handed to sockets in this run (all requests, including refused ones)
//   bytesAcknowledged  body bytes of requests the server answered with 2xx
//   requests           [{ method, status, offset, headOffset, bytes }] in the order they finished: offset is the
//                      Upload-Offset sent, headOffset the one a HEAD answered
import { createHash } from 'node:crypto'
import { createReadStream, openSync, readSync, closeSync, statSync } from 'node:fs'
import { PassThrough, Readable, Transform } from 'node:stream'
import * as tus from 'tus-js-client'

const options = JSON.parse(process.argv[2] ?? '{}')
if (!options.endpoint || !options.file) {
  process.stderr.write('usage: node tus-driver.mjs \'{"endpoint": "...", "file": "..."}\'\n')
  process.exit(2)
}

const fileSize = statSync(options.file).size
const chunkSize = options.chunkSize ?? Number.POSITIVE_INFINITY
const state = {
  bytesSent: 0,
  bytesAcknowledged: 0,
  requests: [],
  aborted: false,
  finished: false,
}

let upload = null

function finish(result) {
  if (state.finished) return
  state.finished = true
  const line = JSON.stringify({
    ...result,
    aborted: state.aborted,
    bytesSent: state.bytesSent,
    bytesAcknowledged: state.bytesAcknowledged,
    requests: state.requests,
  })
  process.stdout.write(`${line}\n`, () => process.exit(0))
}

// Counts the body bytes of every request, and aborts the upload once abortAfterBytes have gone out.
class CountingHttpStack {
  constructor(inner) {
    this._inner = inner
  }

  createRequest(method, url) {
    return new CountingRequest(this._inner.createRequest(method, url))
  }

  getName() {
    return `Counting(${this._inner.getName()})`
  }
}

class CountingRequest {
  constructor(inner) {
    this._inner = inner
  }

  getMethod() {
    return this._inner.getMethod()
  }

  getURL() {
    return this._inner.getURL()
  }

  setHeader(name, value) {
    this._inner.setHeader(name, value)
  }

  getHeader(name) {
    return this._inner.getHeader(name)
  }

  setProgressHandler(handler) {
    this._inner.setProgressHandler(handler)
  }

  abort() {
    return this._inner.abort()
  }

  getUnderlyingObject() {
    return this._inner.getUnderlyingObject()
  }

  async send(body = null) {
    let bytes = 0
    let counted = body
    if (body != null) {
      const source = body instanceof Readable ? body : Readable.from([Buffer.from(body)])
      const counter = new Transform({
        transform(chunk, _encoding, callback) {
          bytes += chunk.length
          state.bytesSent += chunk.length
          if (options.abortAfterBytes != null && !state.aborted && state.bytesSent >= options.abortAfterBytes) {
            state.aborted = true
            // Pass this chunk on first, so the server has part of the PATCH when the connection drops.
            callback(null, chunk)
            setImmediate(() => {
              upload.abort().then(() => finish({ ok: false, url: upload.url, status: null, error: 'aborted' }))
            })
            return
          }

          callback(null, chunk)
        },
      })
      counted = source.pipe(counter)
      counted.size = body.size ?? body.length
    }

    const method = this.getHeader('X-HTTP-Method-Override') ?? this.getMethod()
    const offset = this.getHeader('Upload-Offset') ?? null
    const response = await this._inner.send(counted)
    const status = response.getStatus()
    if (status >= 200 && status < 300) {
      state.bytesAcknowledged += bytes
    }

    const headOffset = method === 'HEAD' && status === 200 ? Number(response.getHeader('Upload-Offset')) : null
    state.requests.push({ method, status, offset: offset === null ? null : Number(offset), headOffset, bytes })
    return response
  }
}

function sliceDigest(algorithm, start, end) {
  const hash = createHash(algorithm)
  const fd = openSync(options.file, 'r')
  try {
    const buffer = Buffer.alloc(1 << 20)
    let position = start
    while (position < end) {
      const read = readSync(fd, buffer, 0, Math.min(buffer.length, end - position), position)
      if (read === 0) break
      hash.update(buffer.subarray(0, read))
      position += read
    }
  } finally {
    closeSync(fd)
  }

  const digest = hash.digest()
  if (options.corruptChecksum) {
    digest[0] ^= 0xff
  }

  return digest.toString('base64')
}

// tus-js-client has no checksum option: the header is added here, from the file slice the PATCH carries.
function addChecksum(request) {
  const method = request.getHeader('X-HTTP-Method-Override') ?? request.getMethod()
  if (!options.checksum || method !== 'PATCH') return
  const offset = Number(request.getHeader('Upload-Offset'))
  const end = Math.min(offset + chunkSize, fileSize)
  request.setHeader('Upload-Checksum', `${options.checksum} ${sliceDigest(options.checksum, offset, end)}`)
}

// A plain stream (no fingerprint, no size) for deferred length; a file stream otherwise, which tus-js-client can
// slice, fingerprint and resume.
const input = options.deferLength ? createReadStream(options.file).pipe(new PassThrough()) : createReadStream(options.file)

upload = new tus.Upload(input, {
  endpoint: options.endpoint,
  uploadUrl: options.uploadUrl ?? null,
  chunkSize,
  parallelUploads: options.parallelUploads ?? 1,
  metadata: options.metadata ?? {},
  headers: options.key ? { Authorization: `Bearer ${options.key}` } : {},
  uploadLengthDeferred: Boolean(options.deferLength),
  uploadDataDuringCreation: Boolean(options.uploadDataDuringCreation),
  overridePatchMethod: Boolean(options.overridePatchMethod),
  retryDelays: options.retryDelays === undefined ? [0, 100, 300] : options.retryDelays,
  storeFingerprintForResuming: Boolean(options.urlStorage),
  ...(options.urlStorage ? { urlStorage: new tus.FileUrlStorage(options.urlStorage) } : {}),
  httpStack: new CountingHttpStack(new tus.DefaultHttpStack()),
  onBeforeRequest: addChecksum,
  onSuccess: () => finish({ ok: true, url: upload.url, status: null, error: null }),
  onError: (error) => {
    const status = error.originalResponse ? error.originalResponse.getStatus() : null
    const body = error.originalResponse ? error.originalResponse.getBody() : null
    finish({ ok: false, url: upload.url, status, error: String(error.message ?? error), body })
  },
})

if (options.resume) {
  const previous = await upload.findPreviousUploads()
  if (previous.length === 0) {
    finish({ ok: false, url: null, status: null, error: 'no previous upload stored for this file' })
  } else {
    upload.resumeFromPreviousUpload(previous[0])
    upload.start()
  }
} else {
  upload.start()
}
