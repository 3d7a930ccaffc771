#!/usr/bin/env node
// Reference side of the tokenizer benchmark (tests/bench/run_tokenizer.sh).
//
// Usage: hf_bench.mjs MODEL_DIR CORPUS [REPS]
//          HF tokenizers' native binding: load time (Tokenizer.fromFile), then
//          encode, add_special_tokens on, two ways: one record per call
//          (awaited in turn: one encode in flight) and all records in one
//          encodeBatch call. Run it with RAYON_NUM_THREADS=1 and
//          TOKENIZERS_PARALLELISM=false for single-thread numbers.
//        hf_bench.mjs --tiktoken ENCODING CORPUS [REPS]
//          tiktoken (WASM) encode_ordinary, one record per call.
//        hf_bench.mjs --tiktoken-native llama3 CORPUS [REPS]
//          @anysphere/tiktoken-node: OpenAI's Rust tiktoken core behind a
//          native napi binding (a .node library, not WASM), with Llama 3's
//          vocabulary, pattern and special tokens built in. One record per
//          awaited encode call (it runs on the libuv pool: start it with
//          UV_THREADPOOL_SIZE=1), special tokens in the text recognized as
//          HF recognizes added tokens. The Llama 3 tokenizer.json benchmarked
//          has a ByteLevel post-processor (add_special_tokens adds nothing),
//          so its ids_hash compares with HF's and lacuna's as is.
// Prints one JSON line with medians over REPS (default 3); MB = 10^6 bytes of
// UTF-8 input; cpu_mb_per_s (and batch_cpu_mb_per_s) divide by the process's
// CPU time (every thread) instead of the clock, steadier on a loaded machine. ids_hash is the 32-bit FNV-1a over every id and 0xFFFFFFFF after
// each record (as tok_bench.c computes it), outside the timed loops.
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { createRequire } from 'node:module';
import { loadBinding, npmDir, readRecords, tokenizerFile } from './hf_dump.mjs';

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

// CPU seconds of this process (all threads) since c0 = process.cpuUsage().
function cpuSince(c0) {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1e6;
}

function fnv(h, v) {
  return Math.imul((h ^ v) >>> 0, 16777619) >>> 0;
}

function hashIds(all) {
  let h = 2166136261;
  for (const ids of all) {
    for (const id of ids) h = fnv(h, id);
    h = fnv(h, 0xffffffff);
  }
  return h.toString(16).padStart(8, '0');
}

async function main() {
  const args = process.argv.slice(2);
  const tiktoken = args[0] === '--tiktoken';
  const native = args[0] === '--tiktoken-native';
  if (tiktoken || native) args.shift();
  if (args.length < 2 || args.length > 3 || (native && args[0] !== 'llama3')) {
    process.stderr.write('usage: hf_bench.mjs [--tiktoken ENCODING | --tiktoken-native llama3 | MODEL_DIR] CORPUS [REPS]\n');
    process.exit(2);
  }
  const reps = args[2] ? Number(args[2]) : 3;
  const bufs = readRecords(args[1]);
  const bytes = bufs.reduce((n, b) => n + b.length, 0);
  const texts = bufs.map((b) => b.toString('utf8'));
  const result = { bytes, records: texts.length };

  if (native) {
    const req = createRequire(path.join(npmDir(), 'package.json'));
    const tk = req('@anysphere/tiktoken-node');
    const enc = tk.SupportedEncoding.Llama3;
    const special = tk.SpecialTokenAction.Special;
    // The encoding is built on first use: load = getTokenizer + one encode.
    const t0 = performance.now();
    const tok = tk.getTokenizer();
    await tok.encode('', enc, special, {});
    result.load_ms = performance.now() - t0;
    let ids = [];
    const times = [];
    const cpus = [];
    for (let r = 0; r < reps; r++) {
      ids = [];
      const c1 = process.cpuUsage();
      const t1 = performance.now();
      for (const t of texts) ids.push(await tok.encode(t, enc, special, {}));
      times.push((performance.now() - t1) / 1e3);
      cpus.push(cpuSince(c1));
    }
    const s = median(times);
    Object.assign(result, {
      encode_s: s,
      mb_per_s: bytes / 1e6 / s,
      cpu_mb_per_s: bytes / 1e6 / median(cpus),
      tokens: ids.reduce((n, v) => n + v.length, 0),
      ids_hash: hashIds(ids),
    });
  } else if (tiktoken) {
    const req = createRequire(path.join(npmDir(), 'package.json'));
    const { get_encoding } = req('tiktoken');
    const loads = [];
    let enc;
    for (let r = 0; r < reps; r++) {
      if (enc) enc.free();
      const t0 = performance.now();
      enc = get_encoding(args[0]);
      loads.push(performance.now() - t0);
    }
    const times = [];
    const cpus = [];
    let tokens = 0;
    for (let r = 0; r < reps; r++) {
      tokens = 0;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (const t of texts) tokens += enc.encode_ordinary(t).length;
      times.push((performance.now() - t0) / 1e3);
      cpus.push(cpuSince(c0));
    }
    enc.free();
    const s = median(times);
    Object.assign(result, {
      load_ms: median(loads),
      encode_s: s,
      mb_per_s: bytes / 1e6 / s,
      cpu_mb_per_s: bytes / 1e6 / median(cpus),
      tokens,
    });
  } else {
    const { Tokenizer } = loadBinding();
    const file = tokenizerFile(args[0]);
    const loads = [];
    let tok;
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      tok = Tokenizer.fromFile(file);
      loads.push(performance.now() - t0);
    }
    result.load_ms = median(loads);
    const opts = { addSpecialTokens: true };

    let ids = [];
    const single = [];
    const singleCpu = [];
    for (let r = 0; r < reps; r++) {
      ids = [];
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (const t of texts) ids.push((await tok.encode(t, null, opts)).getIds());
      single.push((performance.now() - t0) / 1e3);
      singleCpu.push(cpuSince(c0));
    }
    result.tokens = ids.reduce((n, v) => n + v.length, 0);
    result.ids_hash = hashIds(ids);

    const batch = [];
    const batchCpu = [];
    for (let r = 0; r < reps; r++) {
      ids = [];
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const encs = await tok.encodeBatch(texts, opts);
      for (const e of encs) ids.push(e.getIds());
      batch.push((performance.now() - t0) / 1e3);
      batchCpu.push(cpuSince(c0));
    }
    const batchHash = hashIds(ids);
    const s = median(single);
    const b = median(batch);
    Object.assign(result, {
      encode_s: s,
      mb_per_s: bytes / 1e6 / s,
      cpu_mb_per_s: bytes / 1e6 / median(singleCpu),
      batch_encode_s: b,
      batch_mb_per_s: bytes / 1e6 / b,
      batch_cpu_mb_per_s: bytes / 1e6 / median(batchCpu),
      batch_ids_hash: batchHash,
    });
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => {
  process.stderr.write(`hf_bench: ${e.stack || e}\n`);
  process.exit(1);
});
