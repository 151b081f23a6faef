/**
 * NAME
 *   util/log - the structured logger (pino), one shape for every part
 *
 * DESCRIPTION
 *   One JSON line per event on stdout, with an upper-case `event` word an operator can grep
 *   (READY, STOP, RELOAD, LIST, CLEAR, REJECT, DEFER, LIMIT, STORE-DOWN, …) and fixed fields where
 *   they apply (`front`, `cid`, `ip`, `ref`). Peer-supplied text must go through printable()
 *   before it is logged; pino escapes JSON, printable() removes what a terminal would act on.
 *   Level from the config (`log.level`) or BLOCKSMITH_LOG_LEVEL; `silent` for tests.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export function createLogger(level: LogLevel = 'info', destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    // An error's cause as a field of its own: pino's default `err` serializer appends the cause's
    // message to the error's, which repeats it when the message already quotes it (the store's
    // errors do: "… failed (SQLITE_FULL): database or disk is full").
    serializers: { err: pino.stdSerializers.errWithCause },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/** A logger that writes nothing: the default for library code and tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
