/** Logger handed to every part of regpush; never global. The CLI writes it to stderr. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
}

/** A logger that drops everything (the library default). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {} };

/**
 * `logger` with each warning said once: for the work of one run that meets the same thing several
 * times, as a push walks a layer's sources up to four times (the content check, the Windows
 * symlink check, the diffID pass, the build), and a fifo among them was reported on each walk.
 * The dedupe lives in the returned object, so it lasts as long as the run that made it.
 */
export function warningsOnce(logger: Logger): Logger {
  const said = new Set<string>();
  return {
    debug: (m) => logger.debug(m),
    info: (m) => logger.info(m),
    warn: (m) => {
      if (said.has(m)) return;
      said.add(m);
      logger.warn(m);
    },
  };
}
