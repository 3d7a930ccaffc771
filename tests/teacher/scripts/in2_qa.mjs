// For test_in2_teacher.sh: a teacher for recipes/in2.lua. Type I prompts
// ("Here is a passage") get a question whose answer is the passage's first
// number, else its first capitalised word after the first; type II prompts
// ("Here are N passages") get the answers of their first two passages joined
// with "and". A passage that mentions the Amazon gets an answer that is not in
// it ("purple elephants"), for the groundedness filter to skip.
function pick(passage) {
  const num = passage.match(/\b\d[\d,]*\b/);
  if (num) return num[0];
  const words = passage.split(/\s+/).slice(1);
  const name = words.find((w) => /^[A-Z][a-z]{3,}$/.test(w));
  return name || passage.split(/\s+/)[0];
}

function qa(question, answer) {
  return { content: JSON.stringify({ question, answer }) };
}

export function reply(req) {
  const text = String(req.messages[req.messages.length - 1].content);
  let m = text.match(/^Here is a passage:\n\n([\s\S]*?)\n\nWrite one question/);
  if (m) {
    if (m[1].includes('Amazon')) return qa('What lives in the river?', 'purple elephants');
    return qa('Which value does the passage give?', pick(m[1]));
  }
  m = text.match(/^Here are (\d+) passages from one document:\n\n([\s\S]*?)\n\nWrite one question/);
  if (m) {
    const passages = m[2].split(/\n\nPassage \d+:\n/);
    passages[0] = passages[0].replace(/^Passage 1:\n/, '');
    if (passages.length !== Number(m[1])) return { content: 'wrong passage count' };
    if (passages.some((p) => p.includes('Amazon'))) return qa('What lives there?', 'purple elephants');
    return qa('Which two values do the passages give?', `${pick(passages[0])} and ${pick(passages[1])}`);
  }
  return undefined;
}
