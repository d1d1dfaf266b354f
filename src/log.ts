/** Logger handed to every part of regpush; never global. The CLI writes it to stderr. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
}

/** A logger that drops everything (the library default). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {} };
