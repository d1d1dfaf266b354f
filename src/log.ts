/** Logger handed to every part of regpush; never global. The CLI writes it to stderr. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
}

/** A logger that drops everything (the library default). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {} };

/**
 * Logs `line` unless `said` holds it already (then records it): a line an operation says once
 * however often its steps meet the cause. Without a set, every time.
 */
export function sayOnce(said: Set<string> | undefined, log: (line: string) => void, line: string): void {
  if (said?.has(line)) return;
  said?.add(line);
  log(line);
}
