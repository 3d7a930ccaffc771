// For test_teacher_api.sh: a JSON-mode model that first answers with prose
// (not JSON), then, when re-asked with lacuna's correction message, with a
// JSON object; and one that always answers JSON missing a required field.
export function reply(req) {
  const last = req.messages[req.messages.length - 1];
  const text = String(last.content);
  if (req.model === 'json-eventually') {
    if (text.startsWith('That reply was')) return { content: '```json\n{"answer": "C", "confidence": 0.9}\n```' };
    return { content: 'Sure! The answer is C.' };
  }
  if (req.model === 'json-never-valid') return { content: '{"confidence": 0.5}' };
  return undefined;
}
