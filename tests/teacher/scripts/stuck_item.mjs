// For test_stall.sh: the request whose user message contains "STUCK" fails
// (503 after 500 ms) on its first 8 attempts, then gets the default reply:
// one item held in retries for about 4 s while every other request answers
// at the server's latency.
export function reply(req, ctx) {
  const user = String(req.messages[req.messages.length - 1].content);
  if (user.includes('STUCK') && ctx.attempt <= 8) return { fault: '503', delay_ms: 500 };
  return null;
}
