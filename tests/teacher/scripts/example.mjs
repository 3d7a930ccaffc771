// An example --script for tests/teacher/server.mjs, used by test_server.sh.
// reply(request, ctx) runs for every valid chat request that drew no fault;
// ctx = { digest, canonical, counter, attempt, headers, defaultContents() }.
// It returns one of:
//   undefined / null                  the server's default deterministic reply
//   { content, finish_reason?, usage?, model?, delay_ms? }   a 200 with this text
//                                     (content may be an array: one per choice)
//   { status, body, headers? }        exactly this response
//   { fault: '429' | 'reset' | ... }  one of the server's faults
const lastUser = (req) => {
  for (let i = req.messages.length - 1; i >= 0; i--) {
    if (req.messages[i].role === 'user') return String(req.messages[i].content);
  }
  return '';
};

// A multiple-choice "attempt model": answers A, B or C as a pure function of
// the question, the way PAM's tests need a reproducible mix of right and wrong.
function pick(question) {
  let h = 0;
  for (const ch of question) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return 'ABC'[h % 3];
}

export function reply(req, ctx) {
  const q = lastUser(req);
  if (q.startsWith('FAIL-ONCE')) return ctx.attempt === 1 ? { fault: '503' } : { content: `recovered on attempt ${ctx.attempt}` };
  if (q.startsWith('TEAPOT')) return { status: 418, body: { error: { message: 'I am a teapot', type: 'invalid_request_error', param: null, code: null } }, headers: { 'X-Teapot': 'yes' } };
  if (q.startsWith('THROW')) throw new Error('script bug on purpose');
  if (req.model === 'attempt-model') {
    const a = pick(q);
    return { content: `Let me think step by step. The answer is (${a}).\nAnswer: ${a}` };
  }
  if (req.model === 'scripted') return { content: `scripted: ${q}`, finish_reason: 'length', usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } };
  return undefined;
}
