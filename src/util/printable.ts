/**
 * NAME
 *   util/printable - make untrusted text safe to print in a terminal, a log line or an SMTP reply
 *
 * DESCRIPTION
 *   PTR names, HELO strings and the like come from the peer. `printable()` keeps printable ASCII
 *   (0x20-0x7e) as it is and writes every other code point as an escape (`\x0a`, `\u{e9}`), so no
 *   CR, LF, escape sequence or invisible character reaches the output; then it cuts the result to
 *   `maxChars` with a trailing `…` (an ASCII `...` when `asciiOnly`). HTML escaping is the web
 *   views' job, on top of this.
 */

/** Default cap on one printed peer-supplied string. */
export const DEFAULT_PRINTABLE_MAX_CHARS = 255;

export function printable(text: string, maxChars: number = DEFAULT_PRINTABLE_MAX_CHARS, asciiOnly = false): string {
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (code >= 0x20 && code <= 0x7e && char !== '\\') out += char;
    else if (char === '\\') out += '\\\\';
    else if (code <= 0xff) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += `\\u{${code.toString(16)}}`;
    if (out.length > maxChars) {
      const ellipsis = asciiOnly ? '...' : '…';
      return out.slice(0, Math.max(0, maxChars - ellipsis.length)) + ellipsis;
    }
  }
  return out;
}
