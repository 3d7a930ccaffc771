// For test_erasure.sh: a teacher for recipes/prompt_erasure.lua with a scripted
// accuracy table. The strategy is read from the system instruction; the gold
// answer from "(expect X)" in the question.
//   math:   step_by_step right; recall_then_generate right on m1 only; others wrong
//   trivia: recall_then_generate and explain_then_answer right (recall's answer
//           shorter, so the tie goes to it against the name order); others wrong
// "[wrong]" questions get a wrong answer whatever the strategy. Planted leaks:
// "LEAK8" echoes 8 consecutive words of the instruction, "NEAR7" only 7 (no leak),
// "LEAKSENTENCE" repeats the 2-word sentence "Be brief." of terse.json's table.
const STRATEGY_MARKS = [
  ['step_by_step', 'numbered steps'],
  ['recall_then_generate', 'recall the background knowledge'],
  ['recall_reason_generate', 'three stages'],
  ['explain_then_answer', 'curious student'],
  ['direct_answer', 'without any preamble'],
  ['terse', 'Be brief.'],
  ['careful', 'Check the question twice'],
];

function strategyOf(system) {
  for (const [name, mark] of STRATEGY_MARKS) if (system.includes(mark)) return name;
  return 'unknown';
}

function right(strategy, question) {
  if (question.includes('[wrong]')) return false;
  if (question.startsWith('t')) return strategy === 'recall_then_generate' || strategy === 'explain_then_answer';
  if (strategy === 'recall_then_generate') return question.startsWith('m1:');
  return strategy === 'step_by_step' || strategy === 'terse' || strategy === 'careful';
}

const BODY = {
  step_by_step: 'Step 1: read the numbers. Step 2: add them.',
  recall_then_generate: 'Known fact recalled.',
  recall_reason_generate: 'Some knowledge, then some reasoning about it.',
  explain_then_answer: 'A long explanation of the ideas involved in this question, for a learner.',
  direct_answer: '',
  terse: 'Short reason.',
  careful: 'Checked twice.',
};

export function reply(req) {
  const system = req.messages[0].role === 'system' ? String(req.messages[0].content) : '';
  const question = String(req.messages[req.messages.length - 1].content);
  const strategy = strategyOf(system);
  const gold = (question.match(/\(expect ([^)]+)\)/) || [])[1] || 'unknown';
  let body = BODY[strategy] ?? 'No idea.';
  if (question.includes('LEAK8')) {
    body += ' I will ' + system.split(/\s+/).slice(2, 10).join(' ') + ' as told.';
  } else if (question.includes('NEAR7')) {
    body += ' I will ' + system.split(/\s+/).slice(2, 9).join(' ') + ' as told.';
  } else if (question.includes('LEAKSENTENCE')) {
    body += ' Be brief!';
  }
  const answer = right(strategy, question) ? gold : 'wrong-' + gold;
  return { content: (body ? body + '\n' : '') + 'Final answer: ' + answer };
}
