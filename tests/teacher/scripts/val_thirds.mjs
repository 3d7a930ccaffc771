// For test_eval.sh: a model with a U-shaped lost-in-the-middle curve. It reads a
// VAL probe (recipes/val_probe.lua's prompt), finds the context item holding
// the probe's key, and answers correctly only when that item is in the first
// or the last third of the context's items (index < n/3 or >= 2n/3); in the
// middle third it says "I do not know." Prompts it does not recognise get
// undefined (the server's default answer). The model "fail" gets a 400 for
// the probe whose key holds m042.
const SEP = { document: '\n', code: '\n\n', database: '\n' };

function probeOf(text) {
  let m = text.match(/contains the piece "([\s\S]*?)"\. Reply with that whole sentence/);
  if (m) return { kind: 'document', key: m[1] };
  m = text.match(/whose body contains the line "([\s\S]*?)"\. Reply with the name/);
  if (m) return { kind: 'code', key: m[1] };
  m = text.match(/one entity whose id is (\S+)\. Reply with its label/);
  if (m) return { kind: 'database', key: m[1] };
  return null;
}

function answer(kind, item) {
  if (kind === 'document') return item;
  if (kind === 'code') return item.match(/^def (\w+)\(/)[1];
  const m = item.match(/^id: \S+, label: (.*), description: (.*)$/);
  return `${m[1]}, ${m[2]}`;
}

export function reply(req) {
  const text = String(req.messages[req.messages.length - 1].content);
  const probe = probeOf(text);
  if (!probe) return undefined;
  // With the model "fail", the probe of document marker m042 gets a 400 (one failed probe).
  if (req.model === 'fail' && probe.key.includes('m042')) {
    return { status: 400, body: JSON.stringify({ error: { message: 'scripted failure', type: 'invalid_request_error' } }) };
  }
  const ctx = text.match(/### Context:\n([\s\S]*)\n\n### Instruction:/);
  if (!ctx) return { content: 'no context' };
  const items = ctx[1].split(SEP[probe.kind]);
  const idx = items.findIndex((it) => (probe.kind === 'database' ? it.startsWith(`id: ${probe.key},`) : it.includes(probe.key)));
  if (idx < 0) return { content: 'I do not know.' };
  const n = items.length;
  if (3 * idx < n || 3 * idx >= 2 * n) return { content: answer(probe.kind, items[idx]) };
  return { content: 'I do not know.' };
}
