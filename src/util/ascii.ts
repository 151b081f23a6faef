/**
 * NAME
 *   util/ascii - lower-case A-Z only
 *
 * DESCRIPTION
 *   DNS names compare case-insensitively for A-Z only (RFC 4343); String#toLowerCase() would
 *   also fold other letters (the Kelvin sign becomes `k`), changing what an attacker's name says.
 */
export function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (run) => run.toLowerCase());
}
