/**
 * NAME
 *   doc-snippet - the configuration blocks of docs/*.md that the e2e suites run as they stand
 *
 * SYNOPSIS
 *   const mainCf = await docSnippet('postfix.md', 'postfix-policy')
 *   replaceOnce(mainCf, '127.0.0.1:10057', `127.0.0.1:${port}`)
 *
 * DESCRIPTION
 *   A block is the first fenced code block after a line `<!-- e2e-snippet: NAME ... -->` in the
 *   document. The suites read the blocks from the documents instead of keeping a copy, so the
 *   documentation cannot drift from what was tested. A missing or repeated NAME throws.
 *
 *   replaceOnce replaces a text that must occur exactly once (the listening address a test puts on
 *   a free port), so a changed document fails loudly instead of running something else.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT } from './node-process.js';

export const DOCS_DIR = join(ROOT, 'docs');

export async function docSnippet(doc: string, name: string): Promise<string> {
  const text = await readFile(join(DOCS_DIR, doc), 'utf8');
  const lines = text.split('\n');
  const marker = new RegExp(`^<!-- e2e-snippet: ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[ -]`);
  const starts = lines.flatMap((l, i) => (marker.test(l) ? [i] : []));
  if (starts.length !== 1) throw new Error(`docs/${doc}: ${starts.length} e2e-snippet markers named ${name} (want 1)`);
  const start = starts[0] ?? 0;
  const open = lines.findIndex((l, i) => i > start && /^```/.test(l));
  const close = lines.findIndex((l, i) => i > open && /^```\s*$/.test(l));
  if (open < 0 || close < 0) throw new Error(`docs/${doc}: no fenced block after the e2e-snippet ${name}`);
  return lines.slice(open + 1, close).join('\n') + '\n';
}

export function replaceOnce(text: string, from: string, to: string): string {
  const count = text.split(from).length - 1;
  if (count !== 1) throw new Error(`expected ${JSON.stringify(from)} exactly once in the snippet, found ${count}:\n${text}`);
  return text.replace(from, to);
}
