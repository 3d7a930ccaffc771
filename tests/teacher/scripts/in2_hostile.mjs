// For test_in2_hostile.sh: a hostile teacher for recipes/in2.lua. Each prompt's
// kind of reply is chosen by the prompt's first passage (a hash, so a rerun
// sees the same), and it keeps replying the same way when re-asked, except
// for the "fixed_on_reask" and "fenced_prose" kinds. Kinds: a valid reply, a
// fenced ```json block, one after prose (plain JSON when re-asked), prose
// (not JSON), JSON without the answer, wrong types, a JSON array, an empty
// answer, a huge answer, an ungrounded answer, an answer of stopwords only,
// cut-off JSON the first time and valid JSON when re-asked.
import crypto from 'node:crypto';

export const KINDS = ['valid', 'fenced', 'fenced_prose', 'prose', 'no_answer', 'wrong_types', 'array', 'empty_answer',
  'huge_answer', 'ungrounded', 'stopwords', 'fixed_on_reask'];

function firstWordOf(passage) {
  const w = passage.split(/\s+/).find((x) => /^[A-Za-z]{4,}$/.test(x));
  return w || passage.split(/\s+/)[0];
}

export function kindOf(passage) {
  const h = crypto.createHash('sha256').update(passage).digest();
  return KINDS[h[0] % KINDS.length];
}

export function reply(req) {
  const first = String(req.messages[0].content);
  const m = first.match(/^Here is a passage:\n\n([\s\S]*?)\n\nWrite one question/) ||
    first.match(/^Here are \d+ passages from one document:\n\nPassage 1:\n([\s\S]*?)\n\nPassage 2:/);
  if (!m) return { content: 'I only answer in2 prompts.' };
  const passage = m[1];
  const reask = req.messages.length > 1;
  // A passage in Chinese: a two-character answer from inside a run without spaces.
  const cjk = passage.match(/[\u4e00-\u9fff]{6,}/);
  if (cjk) return { content: JSON.stringify({ question: '哪里？', answer: cjk[0].slice(2, 4) }) };
  const answer = firstWordOf(passage);
  const good = JSON.stringify({ question: 'Which word opens the passage?', answer });
  switch (kindOf(passage)) {
    case 'valid': return { content: good };
    case 'fenced': return { content: '```json\n' + good + '\n```\n' };
    case 'fenced_prose': return { content: reask ? good : 'Here you are:\n```json\n' + good + '\n```\n' };
    case 'prose': return { content: `The question is what opens it; the answer is ${answer}.` };
    case 'no_answer': return { content: JSON.stringify({ question: 'What opens it?' }) };
    case 'wrong_types': return { content: JSON.stringify({ question: 5, answer: [answer] }) };
    case 'array': return { content: JSON.stringify([{ question: 'q', answer }]) };
    case 'empty_answer': return { content: JSON.stringify({ question: 'What opens it?', answer: '  ' }) };
    case 'huge_answer': return { content: JSON.stringify({ question: 'What opens it?', answer: `${answer} `.repeat(600) }) };
    case 'ungrounded': return { content: JSON.stringify({ question: 'What lives there?', answer: 'zebras quietly' }) };
    case 'stopwords': return { content: JSON.stringify({ question: 'What is it?', answer: 'it is the one' }) };
    case 'fixed_on_reask': return { content: reask ? good : 'Sure! ' + good.slice(0, 20) };
    default: return undefined;
  }
}
