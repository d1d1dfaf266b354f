// How many timers code makes with the global setTimeout while it runs: the idle clocks restart at
// every chunk of a transfer, and must do it without a new timer each time (idle-watch.test.ts,
// protocol/http.test.ts).

/** Runs `fn`, counting the calls to the global setTimeout meanwhile. */
export async function countTimers(fn: () => Promise<void>): Promise<number> {
  const original = globalThis.setTimeout;
  let made = 0;
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    made++;
    return original(...args);
  }) as typeof setTimeout;
  try {
    await fn();
  } finally {
    globalThis.setTimeout = original;
  }
  return made;
}
