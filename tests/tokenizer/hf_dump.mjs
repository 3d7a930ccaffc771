#!/usr/bin/env node
// Reference dump: encodes every record of a corpus with Hugging Face tokenizers
// (the native binding @anush008/tokenizers) and writes one JSON line per record:
//   {"ids":[...],"offsets":[[start,end],...]}
//
// Usage: hf_dump.mjs [--no-special] MODEL_DIR CORPUS OUT.jsonl [CORPUS OUT.jsonl]...
//   MODEL_DIR   directory holding tokenizer.json (or the file itself)
//   CORPUS      records separated by NUL bytes (make_corpus.py)
//   --no-special  add_special_tokens off (default: on)
//   LACUNA_NPM  where setup.sh installed the packages
//               (default: ${LACUNA_CACHE:-$HOME/.cache/lacuna}/npm)
//
// Offsets are in Unicode code points: the binding calls Rust's
// encode_char_offsets, so it reports char offsets (not UTF-16 units, not bytes);
// a character split over several byte-level tokens gives each of them the whole
// character's span. Each record is decoded from UTF-8 by Node (Buffer#toString),
// which repairs ill-formed input like Rust's from_utf8_lossy: one U+FFFD per
// maximal ill-formed subpart; a leading BOM is kept as U+FEFF.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const BATCH = 256;

function usage() {
  process.stderr.write('usage: hf_dump.mjs [--no-special] MODEL_DIR CORPUS OUT.jsonl [CORPUS OUT.jsonl]...\n');
  process.exit(2);
}

export function npmDir() {
  if (process.env.LACUNA_NPM) return process.env.LACUNA_NPM;
  const cache = process.env.LACUNA_CACHE || path.join(os.homedir(), '.cache', 'lacuna');
  return path.join(cache, 'npm');
}

export function loadBinding() {
  const req = createRequire(path.join(npmDir(), 'package.json'));
  try {
    return req('@anush008/tokenizers');
  } catch (e) {
    process.stderr.write(`hf_dump: cannot load @anush008/tokenizers from ${npmDir()} (run tests/tokenizer/setup.sh): ${e.message}\n`);
    process.exit(1);
  }
}

export function tokenizerFile(p) {
  return fs.statSync(p).isDirectory() ? path.join(p, 'tokenizer.json') : p;
}

// Splits a NUL-separated corpus into Buffers (no copy).
export function readRecords(file) {
  const buf = fs.readFileSync(file);
  const out = [];
  let start = 0;
  for (;;) {
    const i = buf.indexOf(0, start);
    if (i < 0) {
      out.push(buf.subarray(start));
      break;
    }
    out.push(buf.subarray(start, i));
    start = i + 1;
  }
  return out;
}

async function main() {
  const args = process.argv.slice(2);
  let addSpecialTokens = true;
  if (args[0] === '--no-special') {
    addSpecialTokens = false;
    args.shift();
  }
  if (args.length < 3 || args.length % 2 !== 1) usage();
  const { Tokenizer } = loadBinding();
  const tok = Tokenizer.fromFile(tokenizerFile(args[0]));
  for (let a = 1; a < args.length; a += 2) {
    const records = readRecords(args[a]).map((b) => b.toString('utf8'));
    const tmp = `${args[a + 1]}.tmp`;
    const fd = fs.openSync(tmp, 'w');
    for (let i = 0; i < records.length; i += BATCH) {
      const encs = await tok.encodeBatch(records.slice(i, i + BATCH), { addSpecialTokens });
      let chunk = '';
      for (const e of encs) chunk += JSON.stringify({ ids: e.getIds(), offsets: e.getOffsets() }) + '\n';
      fs.writeSync(fd, chunk);
    }
    fs.closeSync(fd);
    fs.renameSync(tmp, args[a + 1]);
  }
}

if (path.basename(process.argv[1] || '') === 'hf_dump.mjs') {
  main().catch((e) => {
    process.stderr.write(`hf_dump: ${e.stack || e}\n`);
    process.exit(1);
  });
}
