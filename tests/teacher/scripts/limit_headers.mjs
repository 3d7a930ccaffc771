// For test_ratelimit.sh: a 200 whose x-ratelimit-* headers are the ones the
// request's user message names, as "name=value;name=value" (e.g.
// "reset-requests=6m0s;remaining-requests=7"), so that a client's parsing of
// each format can be checked.
export function reply(req, ctx) {
  const user = req.messages[req.messages.length - 1].content;
  const headers = {};
  for (const pair of String(user).split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0) headers[`x-ratelimit-${pair.slice(0, eq)}`] = pair.slice(eq + 1);
  }
  const body = {
    id: `chatcmpl-${ctx.digest}`, object: 'chat.completion', created: 1700000000, model: req.model,
    choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
  };
  return { status: 200, body: JSON.stringify(body), headers };
}
