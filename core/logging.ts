import { pino, type Logger, type LevelWithSilent, type DestinationStream } from 'pino';

export type { Logger };
export type LogLevel = LevelWithSilent;

/** The levels a `*_LOG_LEVEL` setting accepts. */
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** Paths whose values never reach a log line. */
export const REDACTED_PATHS = [
  'token', '*.token', 'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
  'password', '*.password', 'secret', '*.secret', 'bearer', '*.bearer',
];

export interface LoggerOptions {
  name: string;
  level?: LevelWithSilent;
  destination?: DestinationStream;
}

/** JSON logger, one line per event, Kubernetes message style (`Injected sidecar into pod ns/name`). */
export function buildLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination,
  );
}
