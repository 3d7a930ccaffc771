// For test_pam*.sh and the CommonsenseQA validation: an attempt model and a
// teacher for recipes/pam.lua. Attempts are told apart by their `seed` (the
// sample index). Markers in the question script the attempts:
//   [right] every attempt right    [wrong] every attempt wrong
//   [mixed] sample 1 right, the others wrong, each with another wrong letter
//   [letter] sample 1 replies with the right letter alone, the others with one
//            line of reasoning and a wrong letter alone
//   [noanswer] every attempt rambles without an answer line (counts as wrong)
//   [teacherwrong] wrong attempts, and the teacher's explanation misses the truth
// A question without choices has a number for its answer (a wrong attempt
// adds its seed to it). Without a marker an attempt is right with probability PAM_RIGHT_PERCENT
// (default 60) as a pure function of (question, seed). The teacher ("The
// solution to the question is (X) ...") explains and ends with the letter
// alone when the question has [letter], else with "So the answer is (X).".
// A judge prompt (checker=judge) gets "Yes." when the candidate's answer
// names the gold letter, else "No.".
import crypto from 'node:crypto';

const RIGHT = Number(process.env.PAM_RIGHT_PERCENT ?? 60);

function lastUser(req) {
  for (let i = req.messages.length - 1; i >= 0; i--) {
    if (req.messages[i].role === 'user') return String(req.messages[i].content);
  }
  return '';
}

function draw(text, salt) {
  return crypto.createHash('sha256').update(text + '\u0000' + salt).digest().readUInt32BE(0) / 4294967296;
}

function letters(prompt) {
  return [...prompt.matchAll(/^\(([A-Z])\) /gm)].map((m) => m[1]);
}

// The question's text: its first line.
function questionOf(prompt) { return prompt.split('\n')[0]; }

export function reply(req) {
  const prompt = lastUser(req);
  if (prompt.endsWith('Reply with only yes or no.')) { // checker=judge
    const gold = prompt.match(/^Gold answer: (.*)$/m)[1];
    const letter = (gold.match(/^\(([A-Z])\)/) || [])[1];
    const said = prompt.match(/^Candidate's final answer: (.*)$/m)[1];
    const yes = letter ? said.includes(`(${letter})`) || said.trim() === letter : said.includes(gold);
    return { content: yes ? 'Yes.' : 'No.' };
  }
  const q = questionOf(prompt);
  const opts = letters(prompt);
  const number = prompt.match(/The solution to the question is (-?\d+)\. /);
  if (number) return { content: `Working it out gives ${number[1]}.\nSo the answer is: ${number[1]}.` };
  const truth = prompt.match(/The solution to the question is \(([A-Z])\)/);
  if (truth) {
    let x = truth[1];
    if (q.includes('[teacherwrong]')) x = opts.find((l) => l !== x);
    const why = `The question asks: ${q.replace(/^\[\w+\] /, '')} Option ${x} fits best, and every other option fails it.`;
    return { content: q.includes('[letter]') ? `${why}\n${x}` : `${why}\nSo the answer is (${x}).` };
  }
  if (!prompt.includes("Let's consider each step carefully.")) return undefined;
  const seed = req.seed ?? 0;
  const right = rightLetter(q, opts);
  let ok;
  if (q.includes('[right]')) ok = true;
  else if (q.includes('[wrong]') || q.includes('[noanswer]') || q.includes('[teacherwrong]')) ok = false;
  else if (q.includes('[mixed]') || q.includes('[letter]')) ok = seed === 1;
  else ok = draw(q, seed) * 100 < RIGHT;
  if (opts.length === 0) { // a question without choices: a number
    const n = Number(answers.get(q)) + (ok ? 0 : seed);
    return { content: `Sample ${seed} computes.\nSo the answer is: ${n}.` };
  }
  const wrongs = opts.filter((l) => l !== right);
  const pick = ok ? right : wrongs[(seed + Math.floor(draw(q, 'w') * wrongs.length)) % wrongs.length];
  if (q.includes('[noanswer]')) return { content: `Hmm, sample ${seed} is thinking about it and cannot decide.` };
  if (q.includes('[letter]')) return { content: seed === 1 ? pick : `Sample ${seed} reasons briefly.\n${pick}` };
  return { content: `Sample ${seed}: first, the question asks about ${q.replace(/^\[\w+\] /, '').toLowerCase()}\n` +
    `Then option ${pick} seems the most sensible.\nSo the answer is (${pick}).` };
}

// The right answer is not in an attempt's prompt: the script reads it from the
// input files named by PAM_ANSWERS (FILE[:FILE...]; question -> letter or number), once.
import fs from 'node:fs';
const answers = new Map();
for (const file of (process.env.PAM_ANSWERS || '').split(':').filter((f) => f)) {
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line);
    let a = String(r.answer);
    if (r.choices && !(a in r.choices)) a = Object.keys(r.choices).find((k) => r.choices[k] === a) ?? a;
    answers.set(r.question, a);
  }
}
function rightLetter(q, opts) {
  return answers.get(q) ?? opts[0];
}
