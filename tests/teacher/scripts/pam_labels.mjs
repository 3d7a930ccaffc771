// For test_pam_tokens.sh: checks --format tokens output of recipes/pam.lua
// against the same run's axolotl output, independently of lacuna's tokenizer:
// the trained tokens of each example must be one contiguous run, their labels
// their ids, and Hugging Face tokenizers' decoding of that run must be exactly
// the assistant turn's trained text (axolotl's train_detail, end inclusive)
// followed by the end-of-turn token's text.
//   node pam_labels.mjs TOKENIZER_DIR TOKENS.jsonl AXOLOTL.jsonl EOT_TEXT
import fs from 'node:fs';
import path from 'node:path';
import { loadBinding } from '../../tokenizer/hf_dump.mjs';

const [dir, tokensPath, axolotlPath, eot] = process.argv.slice(2);
const { Tokenizer } = loadBinding();
const tokenizer = Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));
const lines = (p) => fs.readFileSync(p, 'utf8').split('\n').filter((l) => l.trim());
const toks = lines(tokensPath).map((l) => JSON.parse(l));
const axo = lines(axolotlPath).map((l) => JSON.parse(l));
if (toks.length !== axo.length) {
  console.error(`${toks.length} token examples, ${axo.length} axolotl examples`);
  process.exit(1);
}

function trainedText(message) {
  const chars = Array.from(message.content);
  if (!message.train_detail) return message.train ? message.content : '';
  let s = '';
  for (const d of message.train_detail) if (d.train) s += chars.slice(d.begin_offset, d.end_offset + 1).join('');
  return s;
}

let bad = 0;
const cases = {};
for (let i = 0; i < toks.length; i++) {
  const t = toks[i];
  const assistant = axo[i].messages.find((m) => m.role === 'assistant');
  const want = trainedText(assistant) + eot;
  const trained = [];
  t.labels.forEach((l, k) => { if (l !== -100) trained.push(k); });
  const contiguous = trained.every((k, j) => j === 0 || k === trained[j - 1] + 1);
  const same = trained.every((k) => t.labels[k] === t.input_ids[k]);
  const got = await tokenizer.decode(trained.map((k) => t.input_ids[k]), false);
  const kase = axo[i].meta.pam.case;
  cases[kase] = (cases[kase] || 0) + 1;
  if (!contiguous || !same || got !== want) {
    bad++;
    console.error(`example ${i + 1} (${kase}): contiguous ${contiguous}, labels = ids ${same}\n  trained: ${JSON.stringify(got)}\n  wanted:  ${JSON.stringify(want)}`);
  }
}
console.log(`${toks.length} examples (${Object.entries(cases).map(([k, n]) => `${n} ${k}`).join(', ')}): ` +
  `${toks.length - bad} train exactly their trained text and the end of turn`);
process.exit(bad ? 1 : 0);
