// Odd 200 replies that real servers and proxies send, one per question
// (tests/teacher/test_reply_faults.sh): no usage, usage with impossible
// counts, content null, empty or non-object bodies, choices without a
// message, an error object inside a 200, statuses that are not answers, an
// exhausted quota and a daily limit's Retry-After (an HTTP-date a day ahead).
export function reply(req) {
  const q = req.messages[req.messages.length - 1].content;
  const base = { id: 'chatcmpl-odd', object: 'chat.completion', created: 1700000000, model: req.model };
  const choice = (content, finish = 'stop') => [{ index: 0, message: { role: 'assistant', content }, finish_reason: finish }];
  switch (q) {
    case 'no usage': return { status: 200, body: { ...base, choices: choice('fine without usage') } };
    case 'bad usage': return { status: 200, body: { ...base, choices: choice('odd usage'), usage: { prompt_tokens: 1e300, completion_tokens: -5, total_tokens: null } } };
    case 'usage number': return { status: 200, body: { ...base, choices: choice('usage is a number'), usage: 7 } };
    case 'empty body': return { status: 200, body: '' };
    case 'null body': return { status: 200, body: 'null' };
    case 'no message': return { status: 200, body: { ...base, choices: [{ index: 0, finish_reason: 'stop' }] } };
    case 'error in 200': return { status: 200, body: { error: { message: 'upstream model crashed' } } };
    case 'no content': return { status: 204, body: '' };
    case 'quota': return { status: 429, body: { error: { message: 'You exceeded your current quota, please check your plan and billing details.', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } } };
    case 'daily limit': return { status: 429, body: { error: { message: 'Rate limit reached for requests per day.', type: 'requests', code: 'rate_limit_exceeded' } }, headers: { 'Retry-After': new Date(Date.now() + 86400e3).toUTCString() } };
    default: return null;
  }
}
