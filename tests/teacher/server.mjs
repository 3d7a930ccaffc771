#!/usr/bin/env node
// An OpenAI-compatible chat-completions server on loopback, for lacuna's teacher
// tests and benchmarks. Node >= 18, standard library only.
//
// Replies are a pure function of the request's canonical form, so a client's
// output can be compared byte for byte across runs, concurrency levels and
// injected faults. Faults are drawn from a PRNG seeded by (--seed, request
// counter): a rerun of the same request sequence sees the same faults.
// Usage and every option, endpoint and fault: see README.md beside this file.

import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const FAULT_KINDS = ['429', '500', '502', '503', '504', 'reset', 'truncate',
  'badjson', 'nochoices', 'stall', '400', 'html', 'cutclose', 'chunkstall'];
// The kinds drawn when --fault-rate is set without --faults: all the quick,
// retryable ones. A stall costs the client a whole timeout and a 400 fails the
// item, so tests name those explicitly.
const DEFAULT_FAULTS = ['429', '500', '502', '503', '504', 'reset', 'truncate',
  'badjson', 'nochoices'];
const CANONICAL_FIELDS = ['model', 'messages', 'temperature', 'top_p', 'max_tokens',
  'max_completion_tokens', 'seed', 'stop', 'n', 'response_format'];
const CREATED = 1700000000; // fixed, so that replies are byte-identical
const MAX_BODY = 64 * 1024 * 1024;
const USAGE = `usage: node server.mjs [--port 0] [--port-file FILE] [--latency-ms 0]
  [--fault-rate 0] [--faults LIST] [--seed 1] [--script FILE.mjs]
  [--retry-after SECONDS|date] [--stall-ms 30000] [--log FILE] [--max-lifetime-s 0]
  [--random] [--rate-limit-requests N] [--rate-limit-tokens N]
  [--rate-limit-window-ms 60000] [--rate-limit-headers on|off]
fault kinds: ${FAULT_KINDS.join(',')}`;

function die(msg) {
  process.stderr.write(`server.mjs: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

function parseFaults(s) {
  const list = s.split(',').map((x) => x.trim()).filter((x) => x !== '');
  for (const k of list) if (!FAULT_KINDS.includes(k)) throw new Error(`unknown fault kind '${k}'`);
  return list;
}

function parseRetryAfter(s) {
  if (s === 'date') return s;
  if (!/^\d+$/.test(String(s))) throw new Error(`--retry-after wants whole seconds or 'date', got '${s}'`);
  return Number(s);
}

function nonNegative(name, s) {
  const v = Number(s);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} wants a number >= 0, got '${s}'`);
  return v;
}

// ==== Rate limits and in-flight tracking (issue 15) =========================
// An enforced rate limit, as OpenAI's: requests and tokens per window, each a
// bucket refilled continuously (limit per window), checked when a chat request
// arrives, before any fault is drawn. Over the limit: 429 with code
// rate_limit_exceeded. With --rate-limit-headers on (the default) every chat
// reply carries x-ratelimit-limit-*, -remaining-* and -reset-* (the time
// until the bucket is full again, in OpenAI's format: "1s", "6m0s", "20ms");
// off sends none, like servers that do not say. A request's tokens: its
// prompt tokens (characters / 4, rounded up) plus max_tokens (or
// max_completion_tokens) when given.
// Also the time-weighted in-flight count (/stats in_flight_ms_sum: the sum
// over time of the requests in flight, in request-milliseconds), so that a test
// can show the in-flight count a client kept (in_flight_ms_sum / window_ms).
const rateLimit = { requests: 0, tokens: 0, windowMs: 60000, headers: true };
const rlBuckets = { requests: null, tokens: null };

// Handles the rate-limit options; false for any other option.
function rateLimitOption(a, val) {
  switch (a) {
    case '--rate-limit-requests': rateLimit.requests = nonNegative(a, val()); return true;
    case '--rate-limit-tokens': rateLimit.tokens = nonNegative(a, val()); return true;
    case '--rate-limit-window-ms': {
      const v = nonNegative(a, val());
      if (v <= 0) throw new Error(`${a} wants a number > 0`);
      rateLimit.windowMs = v;
      return true;
    }
    case '--rate-limit-headers': {
      const v = val();
      if (v !== 'on' && v !== 'off') throw new Error(`${a} wants on or off, got '${v}'`);
      rateLimit.headers = v === 'on';
      return true;
    }
    default: return false;
  }
}

function rlBucket(kind) {
  const limit = rateLimit[kind];
  if (!limit) return null;
  let b = rlBuckets[kind];
  if (!b || b.limit !== limit) b = rlBuckets[kind] = { limit, level: limit, t: performance.now() };
  const now = performance.now();
  b.level = Math.min(b.limit, b.level + (now - b.t) * b.limit / rateLimit.windowMs);
  b.t = now;
  return b;
}

// Go's duration format, as OpenAI's reset headers: "1s", "6m0s", "1.5s", "20ms".
function goDuration(ms) {
  if (ms < 1000) return `${Math.ceil(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${Math.round(s * 1000) / 1000}s`;
  const m = Math.floor(s / 60);
  return `${m}m${Math.round((s - m * 60) * 1000) / 1000}s`;
}

function rlHeaders(res) {
  if (!rateLimit.headers) return;
  for (const kind of ['requests', 'tokens']) {
    const b = rlBucket(kind);
    if (!b) continue;
    const resetMs = (b.limit - b.level) * rateLimit.windowMs / b.limit;
    res.setHeader(`x-ratelimit-limit-${kind}`, String(b.limit));
    res.setHeader(`x-ratelimit-remaining-${kind}`, String(Math.max(0, Math.floor(b.level))));
    res.setHeader(`x-ratelimit-reset-${kind}`, goDuration(resetMs));
  }
}

// Takes one request of the limits; true when it must be refused (429, sent here).
function rateLimited(req, res) {
  if (!rateLimit.requests && !rateLimit.tokens) return false;
  const r = rlBucket('requests');
  const t = rlBucket('tokens');
  const need = Math.ceil(promptChars(req) / 4) + (req.max_tokens ?? req.max_completion_tokens ?? 0);
  let over = null;
  if (r && r.level < 1) over = 'requests';
  else if (t && t.level < Math.min(need, t.limit)) over = 'tokens';
  if (!over) {
    if (r) r.level -= 1;
    if (t) t.level -= need;
  }
  rlHeaders(res);
  if (!over) return false;
  bump(stats.faults, `rate_limit_${over}`);
  send(res, 429, openaiError(`Rate limit reached for ${over} (enforced by the test server).`,
    over, null, 'rate_limit_exceeded'));
  return true;
}

let inFlightArea = 0;
let inFlightSince = performance.now();
// Call before stats.in_flight changes.
function trackInFlight() {
  const now = performance.now();
  inFlightArea += stats.in_flight * (now - inFlightSince);
  inFlightSince = now;
}
function resetInFlightArea() { inFlightArea = 0; inFlightSince = performance.now(); }
function inFlightMsSum() { trackInFlight(); return Math.round(inFlightArea); }
// ==== end of rate limits and in-flight tracking ==============================

const opt = {
  port: 0, portFile: null, latencyMs: 0, faultRate: 0, faults: null, seed: 1,
  script: null, retryAfter: 1, stallMs: 30000, log: null, maxLifetimeS: 0,
  random: false,
};
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let v;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) { v = a.slice(eq + 1); a = a.slice(0, eq); }
    if (a === '-h' || a === '--help') { process.stdout.write(USAGE + '\n'); process.exit(0); }
    const val = () => {
      if (v !== undefined) return v;
      if (i + 1 >= argv.length) die(`option ${a} needs a value`);
      return argv[++i];
    };
    try {
      switch (a) {
        case '--port': opt.port = nonNegative(a, val()); break;
        case '--port-file': opt.portFile = val(); break;
        case '--latency-ms': opt.latencyMs = nonNegative(a, val()); break;
        case '--fault-rate': opt.faultRate = nonNegative(a, val());
          if (opt.faultRate > 1) throw new Error('--fault-rate must be within 0..1');
          break;
        case '--faults': opt.faults = parseFaults(val()); break;
        case '--seed': {
          const v = val();
          if (!/^\d+$/.test(v)) throw new Error(`--seed wants a whole number, got '${v}'`);
          opt.seed = Number(v) >>> 0;
          break;
        }
        case '--script': opt.script = val(); break;
        case '--retry-after': opt.retryAfter = parseRetryAfter(val()); break;
        case '--stall-ms': opt.stallMs = nonNegative(a, val()); break;
        case '--log': opt.log = val(); break;
        case '--max-lifetime-s': opt.maxLifetimeS = nonNegative(a, val()); break;
        case '--random': opt.random = true; break;
        default: if (!rateLimitOption(a, val)) die(`unknown option '${a}'`);
      }
    } catch (e) {
      die(e.message);
    }
  }
  if (opt.faults === null) opt.faults = DEFAULT_FAULTS;
  if (opt.faults.length === 0 && opt.faultRate > 0) die('--fault-rate > 0 needs at least one fault kind');
}

let script = null;
if (opt.script) {
  try {
    script = await import(pathToFileURL(path.resolve(opt.script)).href);
  } catch (e) {
    die(`cannot load --script ${opt.script}: ${e.message}`);
  }
  if (typeof script.reply !== 'function') die(`--script ${opt.script} exports no reply(request, ctx)`);
}

let logStream = null;
if (opt.log) {
  logStream = fs.createWriteStream(opt.log, { flags: 'a' });
  logStream.on('error', (e) => die(`--log ${opt.log}: ${e.message}`));
}

// ---- deterministic pieces ----

// 32-bit integer mixer (murmur3's finalizer): enough to turn (seed, counter,
// salt) into independent uniform draws without any state.
function mix32(h) {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
function draw(counter, salt) {
  let h = mix32(opt.seed ^ 0x9e3779b9);
  h = mix32(h ^ Math.imul(counter >>> 0, 0x27d4eb2d) ^ Math.floor(counter / 4294967296));
  h = mix32(h ^ Math.imul(salt, 0x165667b1));
  return h / 4294967296;
}

// JSON with object keys sorted at every level: the canonical text of a value.
function canonicalJSON(v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return '[' + v.map(canonicalJSON).join(',') + ']';
  const keys = Object.keys(v).sort();
  let s = '{';
  let first = true;
  for (const k of keys) {
    if (v[k] === undefined) continue;
    s += (first ? '' : ',') + JSON.stringify(k) + ':' + canonicalJSON(v[k]);
    first = false;
  }
  return s + '}';
}

function canonicalRequest(req) {
  const c = {};
  for (const f of CANONICAL_FIELDS) if (req[f] !== undefined) c[f] = req[f];
  return canonicalJSON(c);
}

function textOf(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((p) => (p && typeof p.text === 'string' ? p.text : '')).join('');
  }
  return '';
}

// A minimal instance of a JSON schema: enough for a client's schema check.
function instanceOf(schema, digest, depth) {
  if (!schema || typeof schema !== 'object' || depth > 8) return digest;
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  for (const k of ['anyOf', 'oneOf', 'allOf']) {
    if (Array.isArray(schema[k]) && schema[k].length) return instanceOf(schema[k][0], digest, depth + 1);
  }
  let t = schema.type;
  if (Array.isArray(t)) t = t.find((x) => x !== 'null') ?? t[0];
  if (!t) t = schema.properties ? 'object' : schema.items ? 'array' : 'string';
  switch (t) {
    case 'object': {
      const o = {};
      for (const [k, s] of Object.entries(schema.properties || {})) o[k] = instanceOf(s, digest, depth + 1);
      return o;
    }
    case 'array': {
      const n = Math.max(1, schema.minItems || 0);
      return Array.from({ length: n }, () => instanceOf(schema.items, digest, depth + 1));
    }
    case 'integer': return Math.max(0, Math.ceil(schema.minimum ?? 0));
    case 'number': return schema.minimum ?? 0;
    case 'boolean': return true;
    case 'null': return null;
    default: return digest;
  }
}

// --random: a sampling teacher. Each answer carries a fresh random draw, so
// two identical requests get different replies (what single flight and the
// cache must hide from the output).
function randomTag() {
  return opt.random ? '~' + crypto.randomBytes(6).toString('hex') : '';
}

function defaultContents(req, digest) {
  const n = req.n ?? 1;
  const rf = req.response_format;
  const out = [];
  for (let i = 0; i < n; i++) {
    const tag = (n > 1 ? `${digest}#${i}` : digest) + randomTag();
    if (rf && (rf.type === 'json_object' || rf.type === 'json_schema')) {
      const schema = rf.type === 'json_schema' && rf.json_schema && rf.json_schema.schema;
      out.push(JSON.stringify(schema ? instanceOf(schema, tag, 0) : { answer: tag }));
    } else {
      let last = '';
      for (let j = req.messages.length - 1; j >= 0; j--) {
        if (req.messages[j].role === 'user') { last = textOf(req.messages[j].content); break; }
      }
      if (last.length > 200) last = last.slice(0, 200);
      out.push(`reply to ${last} [${tag}]`);
    }
  }
  return out;
}

// Applies stop sequences and max_tokens to one choice's content.
function finishChoice(content, req) {
  let finish = 'stop';
  const stops = typeof req.stop === 'string' ? [req.stop] : Array.isArray(req.stop) ? req.stop : [];
  for (const s of stops) {
    if (typeof s !== 'string' || s === '') continue;
    const at = content.indexOf(s);
    if (at >= 0) content = content.slice(0, at);
  }
  const max = req.max_tokens ?? req.max_completion_tokens;
  if (typeof max === 'number' && max < Math.ceil(content.length / 4)) {
    content = content.slice(0, Math.max(0, max) * 4);
    finish = 'length';
  }
  return [content, finish];
}

function promptChars(req) {
  let n = 0;
  for (const m of req.messages) n += textOf(m.content).length;
  return n;
}

// ---- validation ----

function openaiError(message, type, param = null, code = null) {
  return { error: { message, type, param, code } };
}

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

// Returns null when the request is valid, else [param, message].
function invalid(req) {
  if (req === null || typeof req !== 'object' || Array.isArray(req)) return [null, 'The request body must be a JSON object.'];
  if (typeof req.model !== 'string' || req.model === '') return ['model', "'model' is required and must be a non-empty string."];
  if (!Array.isArray(req.messages)) return ['messages', "'messages' is required and must be an array."];
  if (req.messages.length === 0) return ['messages', "'messages' must contain at least one message."];
  for (let i = 0; i < req.messages.length; i++) {
    const m = req.messages[i];
    const p = `messages[${i}]`;
    if (m === null || typeof m !== 'object' || Array.isArray(m)) return [p, `'${p}' must be an object.`];
    if (typeof m.role !== 'string' || !ROLES.has(m.role)) return [`${p}.role`, `'${p}.role' must be one of ${[...ROLES].join(', ')}.`];
    const c = m.content;
    const okNull = c === null && m.role === 'assistant';
    if (typeof c !== 'string' && !Array.isArray(c) && !okNull) return [`${p}.content`, `'${p}.content' must be a string or an array of content parts.`];
  }
  if (req.n !== undefined && (!Number.isInteger(req.n) || req.n < 1 || req.n > 128)) return ['n', "'n' must be an integer from 1 to 128."];
  for (const k of ['max_tokens', 'max_completion_tokens']) {
    if (req[k] !== undefined && req[k] !== null && (!Number.isInteger(req[k]) || req[k] < 1)) return [k, `'${k}' must be a positive integer.`];
  }
  for (const k of ['temperature', 'top_p']) {
    if (req[k] !== undefined && req[k] !== null && typeof req[k] !== 'number') return [k, `'${k}' must be a number.`];
  }
  if (req.stop !== undefined && req.stop !== null && typeof req.stop !== 'string' &&
      !(Array.isArray(req.stop) && req.stop.every((s) => typeof s === 'string'))) return ['stop', "'stop' must be a string or an array of strings."];
  const rf = req.response_format;
  if (rf !== undefined && rf !== null) {
    if (typeof rf !== 'object' || !['text', 'json_object', 'json_schema'].includes(rf.type)) {
      return ['response_format', "'response_format.type' must be one of text, json_object, json_schema."];
    }
  }
  return null;
}

// ---- counters ----

const stats = {
  requests: 0, by_status: {}, faults: {}, completed: new Map(), in_flight: 0, max_in_flight: 0,
  connections: 0, first_ms: 0, last_ms: 0, replied: 0, reply_ms_sum: 0,
};
let attempts = new Map(); // digest -> requests seen with that digest
const t0 = performance.now();

function resetStats() {
  stats.requests = 0; stats.by_status = {}; stats.faults = {}; stats.completed = new Map();
  stats.max_in_flight = stats.in_flight; stats.connections = 0; stats.first_ms = 0; stats.last_ms = 0;
  stats.replied = 0; stats.reply_ms_sum = 0;
  attempts = new Map();
  resetInFlightArea();
}

function statsJSON() {
  let repeated = 0;
  const completed = {};
  for (const [k, n] of stats.completed) { completed[k] = n; if (n > 1) repeated++; }
  return JSON.stringify({
    requests: stats.requests, by_status: stats.by_status, faults: stats.faults,
    completed, distinct_completed: stats.completed.size, repeated_completed: repeated,
    in_flight: stats.in_flight, max_in_flight: stats.max_in_flight, connections: stats.connections,
    window_ms: stats.first_ms ? Math.round((stats.last_ms - stats.first_ms) * 1000) / 1000 : 0,
    mean_reply_ms: stats.replied ? Math.round(stats.reply_ms_sum / stats.replied * 1000) / 1000 : 0,
    in_flight_ms_sum: inFlightMsSum(),
  });
}

function bump(obj, key) { obj[key] = (obj[key] || 0) + 1; }
// completed is a Map: tens of thousands of digests would push a plain object
// into slow dictionary mode.
function noteDone(digest) { stats.completed.set(digest, (stats.completed.get(digest) || 0) + 1); }

// ---- responses ----

function send(res, status, body, headers) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  // A flat [name, value, ...] array: the cheapest form writeHead takes.
  const h = ['Content-Type', 'application/json', 'Content-Length', Buffer.byteLength(text)];
  if (headers) for (const k of Object.keys(headers)) h.push(k, headers[k]);
  res.writeHead(status, h);
  res.end(text);
}

function retryAfterValue() {
  if (opt.retryAfter === 'date') {
    // HTTP-dates have whole seconds: round up so that the date is >= now + 1 s.
    return new Date(Math.ceil((Date.now() + 1000) / 1000) * 1000).toUTCString();
  }
  return String(opt.retryAfter);
}

const FAULT_STATUS = {
  '500': [500, 'The server had an error while processing your request. Sorry about that!', 'server_error'],
  '502': [502, 'Bad gateway.', 'server_error'],
  '503': [503, 'The engine is currently overloaded, please try again later.', 'server_error'],
  '504': [504, 'Gateway timeout.', 'server_error'],
};

// Carries out one fault. Returns the status sent (or null: none was sent).
function doFault(kind, res, cx) {
  const sock = res.socket;
  switch (kind) {
    case '429':
      send(res, 429, openaiError('Rate limit reached for requests (injected by the test server).',
        'requests', null, 'rate_limit_exceeded'), { 'Retry-After': retryAfterValue() });
      return 429;
    case '400':
      send(res, 400, openaiError('Invalid request (injected by the test server).',
        'invalid_request_error', null, null));
      return 400;
    case 'badjson':
      send(res, 200, '{"id": "chatcmpl-broken", "choices": [ this is not JSON');
      return 200;
    case 'nochoices':
      send(res, 200, { id: `chatcmpl-${cx.digest}`, object: 'chat.completion', created: CREATED, model: cx.req.model, choices: [] });
      return 200;
    case 'reset':
      // RST, not FIN: the client sees "connection reset by peer".
      if (sock) { if (sock.resetAndDestroy) sock.resetAndDestroy(); else sock.destroy(); }
      return null;
    case 'truncate': {
      // Promise the whole body, send half of it, then close the connection.
      const body = replyBody(cx, defaultContents(cx.req, cx.digest), null, null);
      const half = body.slice(0, body.length >> 1);
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.write(half, () => { if (res.socket) res.socket.destroySoon(); });
      return 200;
    }
    case 'html':
      // A proxy's error page with a 200 status.
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html><head><title>Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>');
      return 200;
    case 'cutclose': {
      // HTTP/1.0-style body delimited by the connection's end, cut mid-JSON:
      // the transfer itself looks complete, only the JSON is not.
      const body = replyBody(cx, defaultContents(cx.req, cx.digest), null, null);
      if (sock) {
        sock.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n' +
          body.slice(0, body.length >> 1));
      }
      return 200;
    }
    case 'chunkstall': {
      // 200 and the first half of a chunked body, then nothing for --stall-ms,
      // then the connection is dropped.
      const body = replyBody(cx, defaultContents(cx.req, cx.digest), null, null);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write(body.slice(0, body.length >> 1));
      cx.stalled = 'chunkstall';
      cx.stallTimer = setTimeout(() => { if (res.socket) res.socket.destroy(); }, opt.stallMs);
      return 200;
    }
    case 'stall':
      // Answer nothing; after --stall-ms drop the connection (still no answer),
      // so that a late reply can never count as a completed request.
      cx.stalled = 'stall';
      cx.stallTimer = setTimeout(() => { if (res.socket) res.socket.destroy(); }, opt.stallMs);
      return null;
    default: {
      const [status, msg, type] = FAULT_STATUS[kind];
      send(res, status, openaiError(msg, type, null, null));
      return status;
    }
  }
}

function replyBody(cx, contents, finishes, usage, model) {
  const req = cx.req;
  const choices = [];
  let completion = 0;
  for (let i = 0; i < contents.length; i++) {
    let [content, finish] = finishChoice(String(contents[i]), req);
    if (finishes && finishes[i]) finish = finishes[i];
    completion += Math.ceil(content.length / 4);
    choices.push({ index: i, message: { role: 'assistant', content }, logprobs: null, finish_reason: finish });
  }
  const prompt = Math.ceil(promptChars(req) / 4);
  const u = usage || { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  return JSON.stringify({
    id: `chatcmpl-${cx.digest}`, object: 'chat.completion', created: CREATED,
    model: model || req.model, choices, usage: u, system_fingerprint: 'fp_lacuna_test',
  });
}

// The normal (or scripted) answer. Returns the status sent.
function answer(res, cx, scripted) {
  const n = cx.req.n ?? 1;
  if (scripted && scripted.status !== undefined) {
    send(res, scripted.status, scripted.body ?? '', scripted.headers);
    if (scripted.status === 200) noteCompleted(scripted.body, cx.digest);
    return scripted.status;
  }
  let contents;
  let finishes = null;
  if (scripted && scripted.content !== undefined) {
    contents = Array.isArray(scripted.content) ? scripted.content : Array(n).fill(scripted.content);
    if (scripted.finish_reason) finishes = Array(contents.length).fill(scripted.finish_reason);
  } else {
    contents = defaultContents(cx.req, cx.digest);
  }
  const body = replyBody(cx, contents, finishes, scripted && scripted.usage, scripted && scripted.model);
  send(res, 200, body);
  if (contents.length > 0) noteDone(cx.digest);
  return 200;
}

// A scripted 200 counts as completed when its body carries choices.
function noteCompleted(body, digest) {
  try {
    const b = typeof body === 'string' ? JSON.parse(body) : body;
    if (b && Array.isArray(b.choices) && b.choices.length > 0) noteDone(digest);
  } catch { /* not JSON: not a completion */ }
}

function logLine(cx, fault, status) {
  if (!logStream) return;
  logStream.write(JSON.stringify({
    n: cx.counter, t_ms: Math.round(performance.now() - t0), digest: cx.digest ?? null,
    model: cx.req ? cx.req.model : null, fault: fault ?? null, status: status ?? null,
    in_flight: cx.inFlight ?? null,
  }) + '\n');
}

// ---- request handling ----

function authorized(req) {
  const key = process.env.TEST_SERVER_API_KEY;
  if (!key) return true;
  return req.headers.authorization === `Bearer ${key}`;
}

function pickFault(req, cx) {
  const forced = req.headers['x-test-fault'];
  if (forced !== undefined) {
    if (forced === 'none') return null;
    if (FAULT_KINDS.includes(forced)) return forced;
    return { bad: `X-Test-Fault: unknown fault kind '${forced}'` };
  }
  if (opt.faultRate > 0 && opt.faults.length > 0 && draw(cx.counter, 1) < opt.faultRate) {
    return opt.faults[Math.floor(draw(cx.counter, 2) * opt.faults.length)];
  }
  return null;
}

function handleChat(req, res, raw) {
  const cx = { counter: stats.requests++, req: null, digest: null, stallTimer: null, stalled: false };
  const now = performance.now();
  if (!stats.first_ms) stats.first_ms = now;
  trackInFlight();
  stats.in_flight++;
  if (stats.in_flight > stats.max_in_flight) stats.max_in_flight = stats.in_flight;
  let done = false;
  const finish = (fault, status) => {
    if (done) return;
    done = true;
    cx.inFlight = stats.in_flight; // this request included
    trackInFlight();
    stats.in_flight--;
    stats.last_ms = performance.now();
    if (status !== null && status !== undefined) { stats.replied++; stats.reply_ms_sum += stats.last_ms - now; }
    if (fault) bump(stats.faults, fault);
    if (status !== null && status !== undefined) bump(stats.by_status, String(status));
    logLine(cx, fault, status);
  };
  res.on('close', () => {
    if (cx.stallTimer) clearTimeout(cx.stallTimer);
    // The client went away first (or a stall dropped it): no status was sent.
    if (!done) finish(cx.stalled || null, cx.stalled === 'chunkstall' ? 200 : null);
  });

  if (!authorized(req)) {
    send(res, 401, openaiError('Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
      'invalid_request_error', null, 'invalid_api_key'));
    return finish(null, 401);
  }
  try {
    cx.req = JSON.parse(raw);
  } catch (e) {
    send(res, 400, openaiError(`We could not parse the JSON body of your request. (${e.message})`, 'invalid_request_error'));
    return finish(null, 400);
  }
  const bad = invalid(cx.req);
  if (bad) {
    send(res, 400, openaiError(bad[1], 'invalid_request_error', bad[0]));
    cx.req = null;
    return finish(null, 400);
  }
  const canonical = canonicalRequest(cx.req);
  cx.digest = crypto.createHash('sha256').update(canonical).digest('hex').slice(0, 16);
  const attempt = (attempts.get(cx.digest) || 0) + 1;
  attempts.set(cx.digest, attempt);

  if (rateLimited(cx.req, res)) return finish(null, 429);
  let fault = pickFault(req, cx);
  if (fault && fault.bad) {
    send(res, 400, openaiError(fault.bad, 'invalid_request_error', null));
    return finish(null, 400);
  }
  let scripted = null;
  if (!fault && script) {
    try {
      scripted = script.reply(cx.req, {
        digest: cx.digest, canonical, counter: cx.counter, attempt,
        headers: req.headers, defaultContents: () => defaultContents(cx.req, cx.digest),
      });
    } catch (e) {
      process.stderr.write(`server.mjs: script error: ${e && e.stack ? e.stack : e}\n`);
      send(res, 500, openaiError(`test server script error: ${e && e.message}`, 'script_error'));
      return finish(null, 500);
    }
    if (scripted && scripted.fault !== undefined) {
      if (!FAULT_KINDS.includes(String(scripted.fault))) {
        send(res, 500, openaiError(`script asked for unknown fault '${scripted.fault}'`, 'script_error'));
        return finish(null, 500);
      }
      fault = String(scripted.fault);
    }
  }
  const go = () => {
    if (done || res.destroyed) return;
    if (fault) {
      const status = doFault(fault, res, cx);
      if (fault !== 'stall' && fault !== 'chunkstall') finish(fault, status);
      return;
    }
    finish(null, answer(res, cx, scripted));
  };
  const lat = req.headers['x-test-latency-ms'] !== undefined ? Number(req.headers['x-test-latency-ms'])
    : scripted && scripted.delay_ms !== undefined ? scripted.delay_ms : opt.latencyMs;
  // setTimeout, never a busy wait: thousands of requests wait at once.
  if (lat > 0) setTimeout(go, lat); else go();
}

// Runtime reconfiguration (POST /config): lets one server serve several phases.
function applyConfig(c) {
  const next = { ...opt };
  if (c.latency_ms !== undefined) next.latencyMs = nonNegative('latency_ms', c.latency_ms);
  if (c.fault_rate !== undefined) next.faultRate = nonNegative('fault_rate', c.fault_rate);
  if (next.faultRate > 1) throw new Error('fault_rate must be within 0..1');
  if (c.faults !== undefined) next.faults = parseFaults(Array.isArray(c.faults) ? c.faults.join(',') : String(c.faults));
  if (c.seed !== undefined) next.seed = Number(c.seed) >>> 0;
  if (c.retry_after !== undefined) next.retryAfter = parseRetryAfter(String(c.retry_after));
  if (c.stall_ms !== undefined) next.stallMs = nonNegative('stall_ms', c.stall_ms);
  if (c.random !== undefined) next.random = Boolean(c.random);
  Object.assign(opt, next);
}

function configJSON() {
  return JSON.stringify({ latency_ms: opt.latencyMs, fault_rate: opt.faultRate, faults: opt.faults,
    seed: opt.seed, retry_after: opt.retryAfter, stall_ms: opt.stallMs, random: opt.random });
}

// ==== Batch API: /v1/files and /v1/batches (lacuna batch; see README.md) ====
// Files live in memory. A batch advances one state per `polls_per_state`
// GETs of it: validating -> in_progress -> finalizing -> completed, and then
// has an output file (200 lines) and an error file (failed lines). Faults are
// set with POST /batch-config and are deterministic: `fail_rate` fails a
// request (HTTP 500 in the error file) on its first batch only, chosen by a
// hash of its custom_id; `expire_next` makes the next N batches expire with
// `expire_done` of their requests done (the rest batch_expired in the error
// file); `fail_next` makes the next N batches fail validation;
// Each POST /batch-config resets the options not given to their defaults and
// starts the counters afresh. `max_requests`/`max_bytes` are the per-file limits (OpenAI: 50,000 and
// 200 MB); `create_delay_ms` makes the batch at once but delays the reply to
// its create (a client killed meanwhile must find it, not create another). GET /batch-stats counts the calls per endpoint and the requests
// each batch carried.
const batchFiles = new Map(); // id -> {bytes: Buffer, purpose, filename, created_at}
const batches = new Map(); // id -> batch object (+ hidden fields)
const batchSeen = new Map(); // custom_id -> batches that carried it
const BATCH_DEFAULTS = { polls_per_state: 1, fail_rate: 0, expire_next: 0, expire_done: 0.5, fail_next: 0,
  max_requests: 50000, max_bytes: 200 * 1024 * 1024, create_delay_ms: 0 };
let batchCfg = { ...BATCH_DEFAULTS };
let batchStats = null;
function resetBatchStats() {
  batchStats = { uploads: 0, creates: 0, gets: 0, lists: 0, cancels: 0, downloads: 0, file_gets: 0,
    batch_requests: [], executed: 0 };
}
resetBatchStats();
let batchSeq = 0;

function applyBatchConfig(c) {
  const next = { ...batchCfg };
  for (const k of Object.keys(c)) {
    if (!(k in next)) throw new Error(`unknown batch option '${k}'`);
    next[k] = nonNegative(k, c[k]);
  }
  if (next.fail_rate > 1 || next.expire_done > 1) throw new Error('fail_rate and expire_done must be within 0..1');
  batchCfg = next;
}

function unitHash(s) { return crypto.createHash('sha256').update(s).digest().readUInt32BE(0) / 4294967296; }

// The parts of a multipart/form-data body: [{name, filename, data: Buffer}].
function parseMultipart(buf, contentType) {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType || '');
  if (!m) return null;
  const delim = Buffer.from(`--${m[1] || m[2]}`);
  const parts = [];
  let pos = buf.indexOf(delim);
  while (pos >= 0) {
    let start = pos + delim.length;
    if (buf.slice(start, start + 2).toString() === '--') break;
    start += 2; // CRLF
    const headEnd = buf.indexOf('\r\n\r\n', start);
    if (headEnd < 0) return null;
    const head = buf.slice(start, headEnd).toString('utf8');
    const next = buf.indexOf(delim, headEnd + 4);
    if (next < 0) return null;
    const name = /name="([^"]*)"/i.exec(head);
    const filename = /filename="([^"]*)"/i.exec(head);
    parts.push({ name: name ? name[1] : '', filename: filename ? filename[1] : null,
      data: buf.slice(headEnd + 4, next - 2) });
    pos = next;
  }
  return parts;
}

function fileObject(id, f) {
  return { id, object: 'file', bytes: f.bytes.length, created_at: f.created_at, filename: f.filename,
    purpose: f.purpose, status: 'processed' };
}

function batchView(b) {
  const out = {};
  for (const k of Object.keys(b)) if (!k.startsWith('_')) out[k] = b[k];
  return out;
}

// Checks an input file as OpenAI does: JSONL, custom_id unique, POST to the
// batch's endpoint, within the limits. Returns the lines or an error text.
function batchLines(f, endpoint) {
  if (f.bytes.length > batchCfg.max_bytes) return `input file is ${f.bytes.length} bytes, over the limit of ${batchCfg.max_bytes}`;
  const lines = [];
  const ids = new Set();
  const text = f.bytes.toString('utf8');
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    let v;
    try { v = JSON.parse(line); } catch { return `line ${i + 1}: not JSON`; }
    if (typeof v.custom_id !== 'string') return `line ${i + 1}: no custom_id`;
    if (ids.has(v.custom_id)) return `line ${i + 1}: duplicate custom_id ${v.custom_id}`;
    if (v.method !== 'POST' || v.url !== endpoint) return `line ${i + 1}: method/url must be POST ${endpoint}`;
    if (!v.body || typeof v.body !== 'object') return `line ${i + 1}: no body`;
    ids.add(v.custom_id);
    lines.push(v);
  }
  if (lines.length === 0) return 'input file has no requests';
  if (lines.length > batchCfg.max_requests) return `input file has ${lines.length} requests, over the limit of ${batchCfg.max_requests}`;
  return lines;
}

function storeFile(bytes, purpose, filename) {
  const id = `file-${String(++batchSeq).padStart(6, '0')}`;
  batchFiles.set(id, { bytes, purpose, filename, created_at: CREATED + batchSeq });
  return id;
}

// Runs a batch's requests (expired: only a share) into its output and error files.
function finishBatch(b, expired) {
  const out = [];
  const err = [];
  let completed = 0;
  let failed = 0;
  for (const line of b._lines) {
    const seen = (batchSeen.get(line.custom_id) || 0);
    const rid = `batch_req_${crypto.createHash('sha256').update(b.id + line.custom_id).digest('hex').slice(0, 16)}`;
    if (expired && unitHash('expire:' + line.custom_id) >= batchCfg.expire_done) {
      err.push({ id: rid, custom_id: line.custom_id, response: null,
        error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' } });
      failed++;
      continue;
    }
    if (seen <= 1 && unitHash('fail:' + line.custom_id) < batchCfg.fail_rate) {
      err.push({ id: rid, custom_id: line.custom_id, response: { status_code: 500, request_id: rid,
        body: openaiError('The server had an error while processing your request. Sorry about that!', 'server_error') },
      error: null });
      failed++;
      continue;
    }
    const req = line.body;
    const digest = crypto.createHash('sha256').update(canonicalRequest(req)).digest('hex').slice(0, 16);
    const body = JSON.parse(replyBody({ req, digest }, defaultContents(req, digest), null, null, null));
    out.push({ id: rid, custom_id: line.custom_id, response: { status_code: 200, request_id: rid, body }, error: null });
    batchStats.executed++;
    completed++;
  }
  const toFile = (rows) => Buffer.from(rows.map((r) => JSON.stringify(r) + '\n').join(''));
  b.output_file_id = out.length ? storeFile(toFile(out), 'batch_output', `${b.id}_output.jsonl`) : null;
  b.error_file_id = err.length ? storeFile(toFile(err), 'batch_output', `${b.id}_error.jsonl`) : null;
  b.request_counts = { total: b._lines.length, completed, failed };
}

const BATCH_FLOW = ['validating', 'in_progress', 'finalizing', 'completed'];
function advanceBatch(b) {
  if (['completed', 'failed', 'expired', 'cancelled'].includes(b.status)) return;
  b._polls++;
  if (b._polls < batchCfg.polls_per_state) return;
  b._polls = 0;
  const now = CREATED + (++batchSeq);
  if (b.status === 'cancelling') {
    b.status = 'cancelled';
    b.cancelled_at = now;
    b.request_counts = { total: b._lines.length, completed: 0, failed: 0 };
    return;
  }
  if (b.status === 'validating' && b._fail) {
    b.status = 'failed';
    b.failed_at = now;
    b.errors = { object: 'list', data: [{ code: 'invalid_request', message: 'test server: fail_next', line: null }] };
    return;
  }
  if (b.status === 'in_progress' && b._expire) {
    finishBatch(b, true);
    b.status = 'expired';
    b.expired_at = now;
    return;
  }
  b.status = BATCH_FLOW[BATCH_FLOW.indexOf(b.status) + 1];
  if (b.status === 'in_progress') b.in_progress_at = now;
  if (b.status === 'finalizing') { b.finalizing_at = now; finishBatch(b, false); }
  if (b.status === 'completed') b.completed_at = now;
}

function createBatch(res, raw) {
  let c;
  try { c = JSON.parse(raw); } catch (e) { return send(res, 400, openaiError(`bad JSON: ${e.message}`, 'invalid_request_error')); }
  const f = batchFiles.get(c.input_file_id);
  if (!f) return send(res, 404, openaiError(`No such File object: ${c.input_file_id}`, 'invalid_request_error', 'input_file_id'));
  if (f.purpose !== 'batch') return send(res, 400, openaiError('input file purpose must be batch', 'invalid_request_error', 'input_file_id'));
  const endpoint = c.endpoint || '/v1/chat/completions';
  const id = `batch_${String(++batchSeq).padStart(6, '0')}`;
  const lines = batchLines(f, endpoint);
  const b = { id, object: 'batch', endpoint, errors: null, input_file_id: c.input_file_id,
    completion_window: c.completion_window || '24h', status: 'validating', output_file_id: null,
    error_file_id: null, created_at: CREATED + batchSeq, in_progress_at: null, expires_at: CREATED + batchSeq + 86400,
    finalizing_at: null, completed_at: null, failed_at: null, expired_at: null, cancelling_at: null, cancelled_at: null,
    request_counts: { total: 0, completed: 0, failed: 0 }, metadata: c.metadata || null,
    _lines: [], _polls: 0, _fail: false, _expire: false };
  batchStats.creates++;
  if (typeof lines === 'string') {
    b.status = 'failed';
    b.failed_at = b.created_at;
    b.errors = { object: 'list', data: [{ code: 'invalid_request', message: lines, line: null }] };
  } else {
    b._lines = lines;
    b.request_counts.total = lines.length;
    for (const l of lines) batchSeen.set(l.custom_id, (batchSeen.get(l.custom_id) || 0) + 1);
    batchStats.batch_requests.push(lines.length);
    if (batchCfg.fail_next > 0) { batchCfg.fail_next--; b._fail = true; }
    else if (batchCfg.expire_next > 0) { batchCfg.expire_next--; b._expire = true; }
  }
  batches.set(id, b);
  if (batchCfg.create_delay_ms > 0) setTimeout(() => send(res, 200, batchView(b)), batchCfg.create_delay_ms);
  else send(res, 200, batchView(b));
}

// Answers /v1/files..., /v1/batches..., /batch-config, /batch-stats; false
// when the path is none of them.
function handleBatchApi(req, res, p, url) {
  const isApi = p.startsWith('/v1/files') || p.startsWith('/v1/batches');
  if (isApi && !authorized(req)) {
    send(res, 401, openaiError('Incorrect API key provided.', 'invalid_request_error', null, 'invalid_api_key'));
    return true;
  }
  const body = (fn) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => fn(Buffer.concat(chunks)));
  };
  let m;
  if (p === '/batch-stats' && req.method === 'GET') { send(res, 200, batchStats); return true; }
  if (p === '/batch-config' && req.method === 'POST') {
    body((raw) => {
      // Every POST starts a new phase: the defaults, then the options given;
      // the counters and the requests seen (for fail_rate) start again.
      const before = batchCfg;
      batchCfg = { ...BATCH_DEFAULTS };
      try { applyBatchConfig(raw.length ? JSON.parse(raw.toString('utf8')) : {}); } catch (e) {
        batchCfg = before;
        return send(res, 400, openaiError(`bad batch config: ${e.message}`, 'invalid_request_error'));
      }
      resetBatchStats();
      batchSeen.clear();
      send(res, 200, batchCfg);
    });
    return true;
  }
  if (p === '/v1/files' && req.method === 'POST') {
    body((raw) => {
      const parts = parseMultipart(raw, req.headers['content-type']);
      if (!parts) return send(res, 400, openaiError('expected multipart/form-data', 'invalid_request_error'));
      const purpose = parts.find((x) => x.name === 'purpose');
      const file = parts.find((x) => x.name === 'file');
      if (!purpose || !file) return send(res, 400, openaiError('need the fields purpose and file', 'invalid_request_error'));
      batchStats.uploads++;
      const id = storeFile(file.data, purpose.data.toString('utf8'), file.filename || 'upload.jsonl');
      send(res, 200, fileObject(id, batchFiles.get(id)));
    });
    return true;
  }
  if ((m = /^\/v1\/files\/([^/]+)(\/content)?$/.exec(p)) && req.method === 'GET') {
    const f = batchFiles.get(m[1]);
    if (!f) { send(res, 404, openaiError(`No such File object: ${m[1]}`, 'invalid_request_error', 'id')); return true; }
    if (m[2]) {
      batchStats.downloads++;
      res.writeHead(200, ['Content-Type', 'application/octet-stream', 'Content-Length', f.bytes.length]);
      res.end(f.bytes);
    } else {
      batchStats.file_gets++;
      send(res, 200, fileObject(m[1], f));
    }
    return true;
  }
  if (p === '/v1/batches' && req.method === 'POST') { body((raw) => createBatch(res, raw.toString('utf8'))); return true; }
  if (p === '/v1/batches' && req.method === 'GET') {
    batchStats.lists++;
    const q = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
    const limit = Math.min(100, Number(q.get('limit') || 20));
    let all = [...batches.values()].reverse();
    const after = q.get('after');
    if (after) { const i = all.findIndex((b) => b.id === after); all = i >= 0 ? all.slice(i + 1) : []; }
    const data = all.slice(0, limit).map(batchView);
    send(res, 200, { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null,
      has_more: all.length > limit });
    return true;
  }
  if ((m = /^\/v1\/batches\/([^/]+)(\/cancel)?$/.exec(p))) {
    const b = batches.get(m[1]);
    if (!b) { send(res, 404, openaiError(`No batch found with id '${m[1]}'.`, 'invalid_request_error', 'batch_id')); return true; }
    if (m[2] && req.method === 'POST') {
      batchStats.cancels++;
      if (['validating', 'in_progress', 'finalizing'].includes(b.status)) {
        b.status = 'cancelling';
        b.cancelling_at = CREATED + (++batchSeq);
      }
      send(res, 200, batchView(b));
      return true;
    }
    if (!m[2] && req.method === 'GET') {
      batchStats.gets++;
      advanceBatch(b);
      send(res, 200, batchView(b));
      return true;
    }
  }
  if (isApi) {
    send(res, 404, openaiError(`Unknown request URL: ${req.method} ${p}.`, 'invalid_request_error', null, 'unknown_url'));
    return true;
  }
  return false;
}
// ==== end of the Batch API block ====

const server = http.createServer({ noDelay: true, keepAlive: true }, (req, res) => {
  const url = req.url;
  const q = url.indexOf('?');
  const p = q < 0 ? url : url.slice(0, q);
  if (p === '/v1/chat/completions' || p === '/chat/completions') {
    if (req.method !== 'POST') {
      send(res, 405, openaiError(`Method ${req.method} not allowed; use POST.`, 'invalid_request_error'), { Allow: 'POST' });
      return;
    }
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        send(res, 413, openaiError('Request body too large.', 'invalid_request_error'), { Connection: 'close' });
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY) return;
      handleChat(req, res, chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    });
    return;
  }
  const withBody = (fn) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => fn(Buffer.concat(chunks).toString('utf8')));
  };
  if (handleBatchApi(req, res, p, url)) return; // the Batch API block above
  if (p === '/health' && req.method === 'GET') return send(res, 200, '{"status":"ok"}');
  if (p === '/stats' && req.method === 'GET') return send(res, 200, statsJSON());
  // Chat requests received per request key (the digest of the canonical
  // request), faults and retries included: a client that coalesces identical
  // requests shows 1 for every key.
  if (p === '/keys' && req.method === 'GET') return send(res, 200, JSON.stringify(Object.fromEntries(attempts)));
  if (p === '/reset-stats' && req.method === 'POST') {
    return withBody(() => { resetStats(); send(res, 200, statsJSON()); });
  }
  if (p === '/config' && req.method === 'GET') return send(res, 200, configJSON());
  if (p === '/config' && req.method === 'POST') {
    return withBody((raw) => {
      try {
        applyConfig(raw.trim() === '' ? {} : JSON.parse(raw));
      } catch (e) {
        return send(res, 400, openaiError(`bad config: ${e.message}`, 'invalid_request_error'));
      }
      send(res, 200, configJSON());
    });
  }
  if ((p === '/v1/models' || p === '/models') && req.method === 'GET') {
    return send(res, 200, { object: 'list', data: [{ id: 'test-model', object: 'model', created: CREATED, owned_by: 'lacuna-test' }] });
  }
  send(res, 404, openaiError(`Unknown request URL: ${req.method} ${p}.`, 'invalid_request_error', null, 'unknown_url'));
});

// Keep-alive without artificial limits: a client's pooled connections stay open
// across a whole run, and one socket may carry any number of requests.
server.keepAliveTimeout = 60000;
server.headersTimeout = 65000;
server.requestTimeout = 120000;
server.maxRequestsPerSocket = 0;
server.on('connection', () => { stats.connections++; });
server.on('clientError', (err, socket) => {
  if (socket.writable && !socket.destroyed) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  else socket.destroy();
});

function shutdown() {
  server.close();
  if (server.closeAllConnections) server.closeAllConnections();
  if (logStream) logStream.end(() => process.exit(0));
  else process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

server.on('error', (e) => die(`cannot listen: ${e.message}`));
server.listen({ host: '127.0.0.1', port: opt.port, backlog: 1024 }, () => {
  const port = server.address().port;
  if (opt.portFile) {
    // Written under a temporary name and renamed: a reader never sees half a port.
    const tmp = `${opt.portFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${port}\n`);
    fs.renameSync(tmp, opt.portFile);
  }
  process.stdout.write(`listening on 127.0.0.1:${port}\n`);
  if (opt.maxLifetimeS > 0) {
    // A safety net for test harnesses that die without stopping the server.
    setTimeout(shutdown, opt.maxLifetimeS * 1000).unref();
  }
});
