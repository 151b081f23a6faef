/**
 * NAME
 *   errors - the one registry of BlockSmith's error codes
 *
 * DESCRIPTION
 *   Every error BlockSmith raises on purpose is a `BlockSmithError` with a stable code
 *   `BS_ERR_<AREA>_<WHAT>`, a message and the exit status a CLI run ends with. Codes are listed
 *   here and in docs/errors.md; test/unit/errors.test.ts fails if one is missing from the doc.
 *   A retired code is never reused.
 *
 *   DNS failures are NOT errors: the resolver returns them as values (see dns/types.ts).
 */

/** sysexits(3) values the CLI uses. */
export const EXIT = Object.freeze({
  ok: 0,
  /** A check found fail or permerror. */
  rejected: 1,
  usage: 64,
  dataErr: 65,
  noInput: 66,
  software: 70,
  ioErr: 74,
  /** temperror: try again later. */
  tempFail: 75,
  config: 78,
});

export const ERROR_CODES = Object.freeze({
  BS_ERR_CONFIG_INVALID: { exit: EXIT.config, summary: 'the configuration does not match the schema' },
  BS_ERR_CONFIG_UNREADABLE: { exit: EXIT.config, summary: 'the configuration file cannot be read or parsed' },
  BS_ERR_USAGE: { exit: EXIT.usage, summary: 'a command-line argument is wrong' },
  BS_ERR_ADDRESS_INVALID: { exit: EXIT.usage, summary: 'an IP address does not parse' },
  BS_ERR_CIDR_INVALID: { exit: EXIT.usage, summary: 'a CIDR range does not parse' },
  BS_ERR_UPSTREAM_INVALID: { exit: EXIT.usage, summary: 'a DNS upstream is not host[:port]' },
  BS_ERR_INPUT_UNREADABLE: { exit: EXIT.noInput, summary: 'an input file cannot be read' },
  BS_ERR_STORE_UNAVAILABLE: { exit: EXIT.tempFail, summary: 'the store (SQLite file or Redis) cannot be reached or written' },
  BS_ERR_ACCOUNT_NAME_INVALID: { exit: EXIT.usage, summary: 'an operator account name is not letters, digits, ".", "_", "-"' },
  BS_ERR_ACCOUNT_PASSWORD_WEAK: { exit: EXIT.usage, summary: 'a console password is too short or too long' },
  BS_ERR_ACCOUNT_EXISTS: { exit: EXIT.dataErr, summary: 'an operator account of that name exists already' },
  BS_ERR_ACCOUNT_UNKNOWN: { exit: EXIT.dataErr, summary: 'there is no operator account of that name' },
} as const);

export type ErrorCode = keyof typeof ERROR_CODES;

export class BlockSmithError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BlockSmithError';
    this.code = code;
    this.exitCode = ERROR_CODES[code].exit;
  }
}

export function isBlockSmithError(err: unknown): err is BlockSmithError {
  return err instanceof BlockSmithError;
}
