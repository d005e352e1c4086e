// A tiny well-formedness check for the SVG the report emits (no XML parser ships with Node): balanced and properly
// nested tags, quoted attributes without duplicates, and no bare '<' or '&' in text or attribute values.

const NAME = '[A-Za-z_][\\w:.-]*';
const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;
const TAG = new RegExp(`^<(/?)(${NAME})((?:\\s+${NAME}\\s*=\\s*"[^"]*")*)\\s*(/?)>$`);
const ATTRIBUTE = new RegExp(`(${NAME})\\s*=\\s*"([^"]*)"`, 'g');

function checkText(text: string, where: string): void {
  const bare = text.replace(ENTITY, '');
  if (/[<&]/.test(bare)) throw new Error(`bare '<' or '&' in ${where}: ${JSON.stringify(text.slice(0, 80))}`);
}

/** Throws with a message naming the first problem; returns the element names in document order. */
export function checkWellFormed(xml: string): string[] {
  const stack: string[] = [];
  const elements: string[] = [];
  const tokens = xml.split(/(<[^>]*>)/);
  for (const token of tokens) {
    if (!token) continue;
    if (!token.startsWith('<')) {
      checkText(token, 'text');
      if (stack.length === 0 && token.trim()) throw new Error(`text outside the root element: ${token.slice(0, 40)}`);
      continue;
    }
    const match = TAG.exec(token);
    if (!match) throw new Error(`malformed tag: ${token.slice(0, 120)}`);
    const [, closing, name, attributes, selfClosing] = match;
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open ?? 'nothing'}>`);
      continue;
    }
    if (stack.length === 0 && elements.length > 0) throw new Error(`second root element <${name}>`);
    const seen = new Set<string>();
    for (const [, attribute, value] of attributes.matchAll(ATTRIBUTE)) {
      if (seen.has(attribute)) throw new Error(`<${name}> repeats attribute ${attribute}`);
      seen.add(attribute);
      checkText(value, `attribute ${attribute} of <${name}>`);
    }
    elements.push(name);
    if (!selfClosing) stack.push(name);
  }
  if (stack.length) throw new Error(`unclosed <${stack.join('>, <')}>`);
  return elements;
}

/** The <svg>...</svg> blocks of an HTML page (the report never nests them). */
export function svgBlocks(html: string): string[] {
  return html.match(/<svg[\s>][\s\S]*?<\/svg>/g) ?? [];
}
