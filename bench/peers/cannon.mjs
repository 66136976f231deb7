// The benchmark's load generator for its throughput loads (bench/cannon.py drives it).
//
// Python's httpx costs 1.4-2.5 ms of CPU per request on a 2-core machine, more than the servers
// under test, so its req/s measured the generator. autocannon sends from one node process at a
// few tens of microseconds per request.
//
// Reads one JSON spec on stdin:
//   url, connections, duration (seconds of sending), headers, timeout (seconds per request),
//   body (every request the same) OR bodies (handed out in order across all connections, each
//   once; past the end they start over and `reused` counts it), capture ("hashes": each
//   distinct answer once with its count, up to max_samples of them; "bodies": every answer with
//   its body's index; "none").
// Prints one JSON object on stdout (see bench/cannon.py's CannonResult).
//
// When `duration` has passed, no connection sends again: each finishes the request it has in
// flight, so every request sent is answered (its upstream calls are the load's), and the time
// measured ends at the last answer.

import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import autocannon from 'autocannon'

const require = createRequire(import.meta.url)
const VERSION = require('autocannon/package.json').version

function fail (message) {
  process.stderr.write(`cannon: ${message}\n`)
  process.exit(2)
}

function readSpec () {
  let spec
  try {
    spec = JSON.parse(readFileSync(0, 'utf8'))
  } catch (err) {
    fail(`the spec on stdin is not JSON: ${err.message}`)
  }
  const hasBody = typeof spec.body === 'string'
  const hasBodies = Array.isArray(spec.bodies)
  if (hasBody === hasBodies) fail('give exactly one of body (a string) or bodies (a list)')
  if (hasBodies && spec.bodies.length === 0) fail('bodies is empty')
  if (!(spec.duration > 0)) fail('duration must be a positive number of seconds')
  if (!(Number.isInteger(spec.connections) && spec.connections > 0)) {
    fail('connections must be a positive integer')
  }
  return spec
}

// nearest rank, as bench/load.py's percentile
function percentile (sorted, q) {
  if (sorted.length === 0) return null
  const rank = Math.max(1, Math.ceil((q / 100) * sorted.length))
  return sorted[rank - 1]
}

function main () {
  const spec = readSpec()
  const capture = spec.capture || 'hashes'
  const maxSamples = spec.max_samples ?? 1000
  const bodies = spec.bodies || null

  let handedOut = 0
  let reused = 0
  const answers = new Map() // capture "hashes": status + hash -> {status, sha1, count, body}
  const perBody = [] // capture "bodies": every answer
  let unsampled = 0
  const latencies = []
  const status = {}
  const clients = []
  let lastAnswer = 0

  const request = {
    method: 'POST',
    path: new URL(spec.url).pathname,
    headers: { 'content-type': 'application/json', ...(spec.headers || {}) }
  }
  if (bodies) {
    // called once per request sent, on whichever connection sends it: a shared counter
    request.setupRequest = (req, context) => {
      const index = handedOut++
      if (index >= bodies.length) reused++
      context.index = index % bodies.length
      return { ...req, body: bodies[context.index] }
    }
  } else {
    request.body = spec.body
  }
  request.onResponse = (code, body, context) => {
    lastAnswer = performance.now()
    if (capture === 'bodies') {
      perBody.push({ index: context.index ?? null, status: code, count: 1, body })
    } else if (capture === 'hashes') {
      const sha1 = createHash('sha1').update(body).digest('hex')
      const key = `${code} ${sha1}`
      const seen = answers.get(key)
      if (seen) {
        seen.count++
      } else if (answers.size < maxSamples) {
        answers.set(key, { index: null, status: code, count: 1, sha1, body })
      } else {
        unsampled++
      }
    }
  }

  const cpuStart = process.cpuUsage()
  const started = performance.now()
  const instance = autocannon(
    {
      url: spec.url,
      connections: spec.connections,
      pipelining: 1,
      // the stop below ends the run; this is only a backstop for a server that never answers
      duration: spec.duration + (spec.timeout || 60) + 10,
      timeout: spec.timeout || 60,
      sampleInt: 100, // autocannon notices the last connection closed within 0.1 s
      requests: [request],
      setupClient: (client) => clients.push(client)
    },
    (err, result) => {
      if (err) fail(`autocannon: ${err.message}`)
      const cpu = process.cpuUsage(cpuStart)
      latencies.sort((a, b) => a - b)
      const seconds = ((lastAnswer || performance.now()) - started) / 1000
      const completed = latencies.length
      const out = {
        generator: `autocannon ${VERSION}`,
        connections: spec.connections,
        requests: completed,
        sent: result.requests.sent,
        seconds,
        requests_per_second: seconds > 0 ? completed / seconds : 0,
        latency_ms: {
          p50: percentile(latencies, 50),
          p95: percentile(latencies, 95),
          p99: percentile(latencies, 99),
          max: latencies.length ? latencies[latencies.length - 1] : null
        },
        status,
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        bodies: bodies ? bodies.length : 1,
        handed_out: bodies ? handedOut : null,
        reused,
        answers: capture === 'bodies' ? perBody : [...answers.values()],
        unsampled,
        cpu_seconds: (cpu.user + cpu.system) / 1e6
      }
      process.stdout.write(JSON.stringify(out) + '\n')
    }
  )
  instance.on('response', (client, code, bytes, ms) => {
    latencies.push(ms)
    status[code] = (status[code] || 0) + 1
  })
  // graceful stop: each connection may make no request beyond those it has made, so it closes
  // once its in-flight answer arrives; autocannon ends when every connection has closed
  setTimeout(() => {
    for (const client of clients) client.responseMax = Math.max(1, client.reqsMade)
  }, spec.duration * 1000)
}

main()
