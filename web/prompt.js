// The prompt as sdc reads it, shown under the text box: emphasis "(word:1.2)" and "[word]",
// LoRA tags "<lora:NAME:W>" and the "AND" / "BREAK" keywords marked (innermost brackets only;
// docs/prompts.md has the full syntax).

const SYNTAX = /(<lora:[^>]*>)|(\([^()]*\))|(\[[^[\]]*\])|\b(AND|BREAK)\b/g;
const KINDS = ['lora', 'up', 'down', 'kw'];

export function render(text, view) {
  const parts = [];
  let at = 0;
  for (const m of text.matchAll(SYNTAX)) {
    if (m.index > at) parts.push(document.createTextNode(text.slice(at, m.index)));
    const span = document.createElement('span');
    span.className = KINDS[m.slice(1).findIndex((g) => g !== undefined)];
    span.textContent = m[0];
    parts.push(span);
    at = m.index + m[0].length;
  }
  parts.push(document.createTextNode(text.slice(at)));
  view.replaceChildren(...parts);
}
