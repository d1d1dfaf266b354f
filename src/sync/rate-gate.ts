/**
 * sync's pull-limit gate (minRateLimit): which units may spend manifest GETs at a source that
 * counts pulls (Docker Hub's `ratelimit-remaining`), and when. sync.ts makes one RateGate per run
 * and asks it for a ticket before each unit's first GET; the gate reads the counts the transport
 * sees (HttpStats.watch) and lends waiting units' --images slots (slots.ts) meanwhile.
 */
import { AbortedError, asRegpushError, RegpushError, TooManyRequestsError, UsageError } from '../errors.js';
import { sleep } from '../abort.js';
import type { Logger } from '../log.js';
import { formatReference, manifestRef, type ImageReference } from '../ref/reference.js';
import { apiHost } from '../ref/registry.js';
import type { OptionNames } from '../option-names.js';
import type { TransferRun } from '../transfer/engine.js';
import type { PullMeter } from '../transfer/graph.js';
import type { PullsReader } from '../registry/registry-client.js';
import type { ConnectionOptions } from '../registry/connection-options.js';
import { endpointOf } from '../registry/insecure-settings.js';
import { statsHostOf } from '../registry/registry-http.js';
import type { UnitSlot } from './slots.js';
import type { GateOptions } from './options.js';

/** How often the gate asks a held source again (a HEAD, which Docker Hub does not count). */
const DEFAULT_RATE_POLL_MS = 30_000;

/** The longest the gate may hold images (maxWaitMs, --max-wait): a day. The one check of it, for the library and the CLI alike. */
const MAX_WAIT_MS = 24 * 3_600_000;

/**
 * The poll interval's range. Each poll is a HEAD at the source: 0 would send one back to back
 * (~440 a second, measured against a local registry). The default is 30 s; below a second is for
 * tests against a local registry.
 */
const RATE_POLL_RANGE_MS = { min: 10, max: 3_600_000 } as const;

/**
 * Checks the pull-limit gate's options, the same for the library and the CLI; `names` says what
 * the messages call them (`sync(): minRateLimit`, the CLI's `--min-ratelimit`).
 */
export function checkGateOptions(o: Omit<GateOptions, 'events'>, names: OptionNames): void {
  if (o.minRateLimit !== undefined && !(Number.isInteger(o.minRateLimit) && o.minRateLimit >= 0)) {
    throw new UsageError(`${names.about('minRateLimit')} must be a whole number of pulls, 0 or more (got ${o.minRateLimit})`);
  }
  // --max-wait is how long the pull-limit gate may hold images: without the gate there is nothing
  // to wait for, and a run that silently ignored it would stop at the first 429 the user meant to wait out.
  if (o.maxWaitMs !== undefined && o.minRateLimit === undefined) {
    const [min, max] = [names.name('minRateLimit'), names.name('maxWaitMs')];
    throw new UsageError(`${names.about('maxWaitMs')} needs ${min}: it is how long the pull-limit gate may hold images (give ${min} N too, or leave ${max} out)`);
  }
  if (o.maxWaitMs !== undefined && !(Number.isInteger(o.maxWaitMs) && o.maxWaitMs >= 0 && o.maxWaitMs <= MAX_WAIT_MS)) {
    throw new UsageError(`${names.about('maxWaitMs')} must be from 0 to 24 h (${MAX_WAIT_MS} ms; got ${o.maxWaitMs} ms)`);
  }
  const poll = o.rateLimitPollMs;
  if (poll !== undefined && !(Number.isInteger(poll) && poll >= RATE_POLL_RANGE_MS.min && poll <= RATE_POLL_RANGE_MS.max)) {
    throw new UsageError(`${names.about('rateLimitPollMs')} must be milliseconds from ${RATE_POLL_RANGE_MS.min} to ${RATE_POLL_RANGE_MS.max} (got ${poll})`);
  }
}

/**
 * Docker Hub's pull limit, kept, per source registry (its API host: a low count at Docker Hub
 * holds no image from another registry) and reader (the credential the images read with: Docker
 * Hub counts per account, or per address for anonymous reads). The last `ratelimit-remaining` the registry sent does
 * not show the pulls under way: a unit is let through — at its first manifest GET, for its check
 * that the targets hold it already is HEADs, which pass whatever the count — only when that count,
 * less the pulls the registry's units in flight have under way and one for itself, stays at or
 * above minRateLimit.
 * A unit's pulls under way are its manifest GETs at the source (Docker Hub counts each; a HEAD
 * is free) that are started or queued and not yet answered — an index's children are announced
 * as soon as the index is read, so a multi-platform image counts for every platform it will read
 * (Docker Hub counts one pull per platform). A unit not yet that far — waiting, or let through
 * with nothing answered — is taken to cost as much as the largest unit of that registry so far
 * (a sync file's images tend to be alike; the estimate errs on the side of the reserve). Before the
 * registry has sent a count, one unit goes alone and the others wait for its first answer (its
 * source HEAD, which Docker Hub answers with the count without counting a pull); then, until one
 * unit's top manifest has been read (its cost known) or one has ended, still one alone (and,
 * where a count came before any unit, with a tag list, only while it leaves a pull above the
 * reserve). A registry that has sent no count by the time that unit ends is not held.
 *
 * Units wait in the order they first need a GET, one queue per registry, their --images slots
 * lent to the next images meanwhile. Held by units in flight, they wait for one to
 * end, for a pull of theirs to be answered, or for a new count. With none in flight the count
 * itself is too low: the gate asks again with a manifest HEAD — which returns the headers without
 * counting as a pull — every poll interval, until the count is back or maxWait has passed (then
 * every waiting unit fails with E_TOO_MANY_REQUESTS, as does each later unit of that registry
 * that needs a GET; one whose targets hold it is still found up to date by its HEADs).
 *
 * The estimate can be wrong (a file's one-platform images first, then indexes of four platforms),
 * so each manifest GET is held too: a unit sends its next GETs only while the count, less the
 * GETs in flight and those other units have been let send, leaves room for every GET the unit has
 * announced and not had answered (an index's children all together). A unit never spends pulls on
 * part of an image it could not finish: its GETs wait for answers or a new count, as units do, and
 * fail with E_TOO_MANY_REQUESTS when it does not come.
 *
 * A GET the gate let go can still meet a 429 that says the pull limit is used up: another user of
 * the same address or account spent the count meanwhile. With maxWait, the gate takes the count as
 * 0 from then on (spend): every unit of that registry is held as at a count of 0, the one that met
 * the 429 too, and only a poll's count with room for the next image lets them go, that unit's
 * refused GET sent again. The wait ends at maxWait after the first such 429, however many polls
 * said room in between while GETs were still refused. Without maxWait there is nothing to wait
 * for: the refusal fails the image, and the sync sends that registry no more pulls (outage.ts).
 *
 * The count a group goes by is its reader's: the last one an answer to that credential carried
 * (TransportStats.readerCount, noted by registry-http.ts for every answer), a target's answers
 * included where it reads as the same credential (the same account or address), never another
 * login's or an anonymous reader's at the same host. Two logins of one account are two groups,
 * each going by the account's count its own answers bring (the key is the credential, not the
 * `docker-ratelimit-source` Docker Hub names, which is known only once the registry has answered,
 * after the first images were grouped). An image read through a mirror is the mirror's reader
 * (MirroredClient.pullsReader): the mirror's reads never spend the registry's pulls. A source
 * client that cannot say who reads (RegistryClient.pullsReader absent) is grouped by its registry
 * and goes by the last count its host sent; so is an image whose reader sync did not ask, its
 * registry having answered without a count when it started. Such a group may read as any reader
 * there, so it and the readers' groups of its registry weigh each other's pulls under way (peers):
 * at a registry whose counts begin after its first answers, the images started before and those
 * started after never spend the same room above the reserve twice.
 */
export class RateGate {
  private readonly registries = new Map<string, RegistryGate>();
  /** The first error a registry's gate stopped with (--max-wait passed, or the run stopped). */
  failure?: RegpushError;
  private readonly unwatch: () => void;

  constructor(
    private readonly run: TransferRun,
    /** The gate's options, and the run's insecure settings (the scheme each source is reached by: countsKey). */
    private readonly opts: GateOptions & Pick<ConnectionOptions, 'insecureRegistries' | 'insecureTlsRegistries' | 'env'>,
    private readonly logger: Logger,
    /** What the messages call minRateLimit and maxWaitMs (the CLI's --min-ratelimit, --max-wait). */
    private readonly names: OptionNames,
  ) {
    // A new count may let waiting units through (the first count of a registry above all).
    // Every reader's group at the host: the count may be any of theirs (readerCount tells again once it is known whose).
    this.unwatch = run.transport.stats.watch((seen) => {
      const pumped = new Set<RegistryGate>();
      for (const g of this.registries.values()) if (g.host === seen.registry) for (const p of this.peers(g)) pumped.add(p);
      for (const p of pumped) this.pump(p.key);
    });
  }

  /**
   * The group of `source`'s reader (RegistryClient.pullsReader): its registry, keyed as the
   * transport keeps its counts (`https://reg:443` is `reg`), and the credential it reads with.
   * Without a reader, the registry's (its last count, whoever it was sent to): grouped by its API
   * host, and its counts looked up under the key the transport keeps them by (countsKey), asked
   * each time, as a probed scheme may settle after the group was made.
   */
  private gateKey(source: ImageReference, reader: PullsReader | undefined): { key: string; host: () => string; who?: string } {
    if (!reader) {
      const api = apiHost(source.registry).toLowerCase();
      return { key: api, host: () => this.countsKey(source.registry) };
    }
    return { key: `${reader.host}\n${reader.who}`, host: () => reader.host, who: reader.who };
  }

  /**
   * The key the transport keeps `registry`'s counts by (TransportStats.hostKey), as its clients'
   * answers are keyed (statsHostOf, as RegistryHttp.statsHost): with the scheme the run's clients
   * reach it by (endpointOf: the run's insecure settings), or, for a loopback or insecure-TLS
   * registry, the one a probe settled on. Keyed `auto`, an HTTPS registry named on `:80`,
   * a plain-HTTP one on `:443`, or `127.0.0.1:443` probed to plain HTTP would be looked up without
   * its port, and its counts never found: the gate would never hold its images.
   */
  private countsKey(registry: string): string {
    const transport = this.run.transport;
    return transport.stats.hostKey(statsHostOf(transport, endpointOf(registry, this.opts)));
  }

  /** Stops listening for counts. */
  close(): void {
    this.unwatch();
  }

  /** Fails every unit of `g`'s registry still waiting, and those that come later, with `err`; other registries go on. */
  private stop(g: RegistryGate, err: unknown): void {
    this.failure ??= asRegpushError(err);
    g.stopped ??= { err };
    for (const q of g.queue.splice(0)) q.reject(g.stopped.err);
    for (const h of g.held.splice(0)) h.reject(g.stopped.err);
  }

  /** Why an image reading `source` as `reader` sends no manifest GET: the gate gave up on that reader's group (--max-wait passed, or the run stopped). */
  stopped(source: ImageReference, reader: PullsReader | undefined): RegpushError | undefined {
    const g = this.registries.get(this.gateKey(source, reader).key);
    return g?.stopped && asRegpushError(g.stopped.err);
  }

  /**
   * The ticket of an image reading `source` that has taken `slot` (none without --min-ratelimit):
   * its pull meter, and what to call once it has ended. The image is charged to the gate only at
   * its first manifest GET: its check that the targets hold it already is HEADs, which cost no
   * pull, so an unchanged image goes through whatever the count (an hourly re-run of unchanged
   * images passes with Docker Hub's count at the reserve). That first GET waits its turn as a new
   * image did (pump), its slot lent to the next image meanwhile; let through, it takes the next
   * free slot before the images not started.
   */
  ticket(source: ImageReference, slot: UnitSlot, reader: PullsReader | undefined): GateTicket | undefined {
    if (this.opts.minRateLimit === undefined) return undefined;
    const min = this.opts.minRateLimit;
    const { key, host, who } = this.gateKey(source, reader);
    let g = this.registries.get(key);
    if (!g) {
      const made: RegistryGate = new RegistryGate(key, host, who, () => this.peers(made));
      this.registries.set(key, (g = made));
    }
    const gate = g;
    gate.sources.add(apiHost(source.registry).toLowerCase());
    const pulls: UnitPulls = { pending: 0, announced: 0, answered: false, inFlight: 0, cleared: false, charged: false };
    const admit = async (): Promise<void> => {
      if (gate.stopped) throw gate.stopped.err;
      const admitted = new Promise<void>((resolve, reject) => gate.queue.push({ source, unit: pulls, resolve, reject }));
      this.pump(key);
      // Let through at once (pump charges a unit as it lets it through): the image keeps its slot.
      if (pulls.charged) return admitted;
      slot.leave();
      await admitted;
      await slot.again();
    };
    let admitted: Promise<void> | undefined;
    let done = false;
    // A read the image started and no longer waits for (its graph, read early for a target that
    // lacked the tag, while the source refused the image) must not be charged, or held, once the
    // image has ended: charged, it would count among the units under way for ever.
    const over = (): AbortedError => new AbortedError(`${formatReference(source)} has ended; its manifest read is not sent`);
    return {
      pulls: {
        will: (n) => {
          pulls.pending += n;
          pulls.announced += n;
          // What it was let send no longer covers all it will read.
          pulls.cleared = false;
        },
        did: () => {
          pulls.pending = Math.max(0, pulls.pending - 1);
          // A read refused before it was sent (the gate stopped) tells the gate nothing.
          if (!pulls.charged) return;
          pulls.answered = true;
          gate.largest = Math.max(gate.largest, pulls.announced);
          this.pumpPeers(gate);
        },
        send: async <T>(read: () => Promise<T>): Promise<T> => {
          if (done) throw over();
          if (!pulls.charged) {
            await (admitted ??= admit());
            // Let through, it may have waited for a slot (admit); the image may have ended meanwhile.
            if (done) throw over();
          }
          // Once more after a 429 that said the pull limit is used up, where --max-wait lets the gate wait it out (waitsOut).
          for (;;) {
            if (this.fits(gate, pulls, min)) {
              pulls.cleared = true;
              pulls.inFlight++;
            } else {
              if (gate.stopped) throw gate.stopped.err;
              // release() counts it in flight when it lets it go. Meanwhile the image's --images
              // slot goes to the next image (another registry's, say), and comes back when it is let go.
              slot.leave();
              await new Promise<void>((resolve, reject) => {
                gate.held.push({ unit: pulls, source, resolve, reject });
                this.pump(key);
              });
              slot.back();
            }
            try {
              // Let go (letGo) just before the image ended: counted in flight, and not sent.
              if (done) throw over();
              const got = await read();
              gate.spentDeadline = undefined;
              return got;
            } catch (err) {
              if (!this.waitsOut(err)) throw err;
              this.spend(gate, asRegpushError(err));
            } finally {
              pulls.inFlight--;
              this.pumpPeers(gate);
            }
          }
        },
      },
      ended: () => {
        if (done) return;
        done = true;
        for (const waiting of [gate.queue, gate.held]) {
          for (let i = waiting.length - 1; i >= 0; i--) if (waiting[i]!.unit === pulls) waiting.splice(i, 1)[0]!.reject(over());
        }
        if (!pulls.charged) return;
        gate.units.delete(pulls);
        gate.endedOne = true;
        this.pumpPeers(gate);
      },
    };
  }

  /**
   * True for a manifest GET's refusal that the gate waits out rather than fails the image with:
   * a 429 saying the pull limit is used up (details.pullLimitSpent: the registry's, or the
   * transport's refusal to send one after it, registry/manifests.ts), where --max-wait lets the
   * gate wait. Without --max-wait the refusal stands, and the sync stops that registry's pulls for
   * the run (outage.ts), as it does without the gate.
   */
  private waitsOut(err: unknown): boolean {
    return (this.opts.maxWaitMs ?? 0) > 0 && err instanceof RegpushError && err.details.pullLimitSpent === true;
  }

  /**
   * A 429 said `g`'s pull limit is used up, although the count the gate let the GET go by had
   * room (another user of the same address or account spent it, or its window was about to roll
   * over): the count is taken as 0 until a poll (wait()) brings one with room for the next image,
   * so every image of that registry is held as a count of 0 holds it — the one that met the 429
   * too, whose refused GET is sent again then. What units were let send on the old count is
   * withdrawn: their next GETs wait with the rest.
   */
  private spend(g: RegistryGate, err: RegpushError): void {
    g.spent = err;
    // One deadline from the first such 429 until a GET is answered again: a registry whose HEADs
    // say there is room while its GETs are refused is not polled and asked again for ever.
    g.spentDeadline ??= performance.now() + (this.opts.maxWaitMs ?? 0);
    for (const u of g.units) u.cleared = false;
  }

  /** The count the gate goes by for group `g`: 0 while a 429 said the limit is used up (spend), else the last count sent. */
  private count(g: RegistryGate): number | undefined {
    return g.spent ? 0 : this.remaining(g);
  }

  /**
   * The groups whose images may spend the pulls `g` goes by, `g` first. An image whose reader was
   * not asked (readerOf in sync.ts: its registry had answered without a count when it started) is
   * in its registry's group, and may read as any reader there: that group is weighed with every
   * reader's group of its registry (the same host, or a source registry in common where a reader is
   * a mirror's), and each of them with it. A registry whose first answers carry no count and later
   * ones do has both at once: its images started in between are under way in the registry's group
   * when the next ones join their reader's, and each group counting its own pulls alone would let
   * both spend down to the reserve, the one into it. Readers' groups are not weighed with each
   * other: each goes by its own reader's count.
   */
  private peers(g: RegistryGate): RegistryGate[] {
    const out = [g];
    for (const h of this.registries.values()) {
      if (h === g || (h.who !== undefined && g.who !== undefined)) continue;
      if (h.host === g.host || [...h.sources].some((s) => g.sources.has(s))) out.push(h);
    }
    return out;
  }

  /** Pumps `g` and the groups weighed with it (peers): a pull of `g`'s answered, or an image of it ended, may make room in either. */
  private pumpPeers(g: RegistryGate): void {
    for (const p of this.peers(g)) this.pump(p.key);
  }

  /** Lets through the first GETs of the images of `key` that the count allows, in order; holds the rest. */
  private pump(key: string): void {
    const g = this.registries.get(key);
    const min = this.opts.minRateLimit!;
    if (!g) return;
    // The GETs of images under way before new images.
    this.release(key, g, min);
    if (g.holding || g.stopped) return;
    while (g.queue.length) {
      const remaining = this.count(g);
      // A unit's cost is known once its top manifest has been read (an index announces its
      // children then); until some unit's is, or one has ended, one unit goes alone — and only
      // while a count already sent (with a tag list, say) leaves a pull above the reserve.
      const sized = g.ended() || g.perUnit() > 0;
      const admit =
        remaining === undefined
          ? g.busy() === 0 || g.ended()
          : !sized
            ? g.busy() === 0 && remaining - g.estimate() >= min
            : remaining - g.underWay() - g.estimate() >= min;
      if (!admit) {
        // Units in flight (its peers' too) will end, have a pull answered or bring a new count: pumped again then.
        if (g.busy() > 0) return;
        g.holding = true;
        // Nothing in flight here: what the next unit needs is its own estimate.
        const need = g.estimate();
        this.wait(g, g.queue[0]!.source, min, () => need).then(
          () => {
            g.holding = false;
            this.pump(key);
          },
          (err: unknown) => this.stop(g, err),
        );
        return;
      }
      const first = g.queue.shift()!;
      first.unit.charged = true;
      g.units.add(first.unit);
      first.resolve();
    }
  }

  /**
   * Whether `u` may send a GET: it has been let send all it has announced, or the count, less the
   * pulls other units have in flight or have been let send, leaves room for all of it (a count not
   * sent yet: the unit-level rule alone holds).
   */
  private fits(g: RegistryGate, u: UnitPulls, min: number): boolean {
    const remaining = this.count(g);
    return remaining === undefined || u.cleared || remaining - g.committed(u) - Math.max(1, u.pending) >= min;
  }

  /**
   * Lets the held GETs go whose units now fit, oldest first. Those left, with no GET of this
   * registry in flight to bring a new count, wait for one as units do (wait(), under --max-wait).
   */
  private release(key: string, g: RegistryGate, min: number): void {
    this.letGo(g, min);
    if (!g.held.length) return;
    if (g.stopped) {
      this.stop(g, g.stopped.err);
      return;
    }
    if (g.holding || g.inFlight() > 0 || g.settling) return;
    // The last GET's answer has just come: its image tells the meter (did) a moment later, which
    // may make room. Decide once that has run, not before: with --max-wait 0 the wait would fail
    // at once on a count about to be enough.
    g.settling = true;
    setImmediate(() => {
      g.settling = false;
      this.letGo(g, min);
      if (!g.held.length || g.holding || g.stopped || g.inFlight() > 0) return;
      g.holding = true;
      // What the oldest held GET's image still needs, for as long as one is held (the GETs in
      // flight meanwhile may have let them all go).
      const need = (): number | undefined => {
        const first = g.held[0];
        return first && g.committed(first.unit) + first.unit.pending;
      };
      this.wait(g, g.held[0]!.source, min, need, true).then(
        () => {
          g.holding = false;
          this.pump(key);
        },
        (err: unknown) => this.stop(g, err),
      );
    });
  }

  /** Lets the held GETs go whose units now fit, oldest first, each counted in flight. */
  private letGo(g: RegistryGate, min: number): void {
    for (const h of [...g.held]) {
      if (!this.fits(g, h.unit, min)) continue;
      g.held.splice(g.held.indexOf(h), 1);
      h.unit.cleared = true;
      h.unit.inFlight++;
      h.resolve();
    }
  }

  /** The last count `g`'s reader was sent (TransportStats.readerCount); without a reader, the last its host sent. */
  private remaining(g: RegistryGate): number | undefined {
    const stats = this.run.transport.stats;
    if (g.who !== undefined) return stats.readerRemaining({ key: g.host }, g.who);
    return stats.snapshot().rateLimits.find((r) => r.registry === g.host)?.remaining;
  }

  /**
   * Asks the count again every poll interval until the next unit, which takes up to `need` pulls,
   * fits above the reserve — the same test pump() admits it by, so that a count above the reserve
   * by less than a unit's pulls keeps waiting here, under one deadline, rather than going back and
   * forth between the two with a new one each time — or until --max-wait has passed. `underWay`:
   * what waits is the rest of images already started (their next manifest reads), not new ones;
   * `need` answers undefined once nothing waits any more.
   */
  private async wait(g: RegistryGate, source: ImageReference, min: number, needNow: () => number | undefined, underWay = false): Promise<void> {
    const maxWait = this.opts.maxWaitMs ?? 0;
    const poll = this.opts.rateLimitPollMs ?? DEFAULT_RATE_POLL_MS; // checked: checkGateOptions
    // After a 429 said the limit is used up, the wait ends when the first one after it began would have (spend).
    const deadline = g.spentDeadline ?? performance.now() + maxWait;
    let remaining = this.count(g)!;
    // Why the count is taken as 0 although the last one sent may say otherwise.
    const refused = () => (g.spent ? ` (a manifest GET was refused: the pull limit is used up, ${String(g.spent.details.pullLimit)})` : '');
    let need = needNow() ?? 1;
    // "at": the count is the reserve itself, which one more pull would spend; "within": above it,
    // by less than an image here reads (an index: one pull per manifest).
    const reserve = this.names.name('minRateLimit', String(min));
    const where = () =>
      remaining < min
        ? `below ${reserve}`
        : remaining === min || need <= 1
          ? `at ${reserve}`
          : underWay
            ? `within the ${need} pulls the images under way still read of ${reserve}`
            : `within one image's ${need} pulls of ${reserve}`;
    this.opts.events?.waiting?.(source.registry, remaining, min);
    const holding = underWay ? 'holding the manifest reads of the images under way' : 'not starting new images';
    this.logger.warn(`${source.registry}: ratelimit-remaining is ${remaining}${refused()}, ${where()}; ${holding}${maxWait ? ` (waiting up to ${Math.round(maxWait / 1000)} s)` : ''}`);
    // The latest poll's failure (a poll that answers clears it): named if the wait runs out.
    let pollFailed: RegpushError | undefined;
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new TooManyRequestsError(
          `${source.registry}: ratelimit-remaining stayed ${where()} (last ${remaining})${refused()}` +
            `${maxWait ? ` for ${Math.round(maxWait / 1000)} s (${this.names.name('maxWaitMs')})` : ''}; ` +
            `stopped ${underWay ? `${formatReference(source)} part-way` : `before ${formatReference(source)}`}; a re-run copies what is missing` +
            `${pollFailed ? `; the count could not be read again: ${pollFailed.message} [${pollFailed.code}]` : ''}`,
          // gateStopped: refused here, not by the registry (not an outage: outage.ts).
          { details: { registry: source.registry, remaining, gateStopped: true }, ...(pollFailed ? { cause: pollFailed } : {}) },
        );
      }
      await sleep(Math.min(poll, left), this.run.signal);
      if (needNow() === undefined) return;
      try {
        await this.run.source(source).client.headManifest(source.repository, manifestRef(source));
        pollFailed = undefined;
      } catch (err) {
        // An abort, or credentials refused, does not pass by waiting: it ends the wait now, as
        // itself. Anything else (the registry down for a while, a 5xx, a connection lost) may pass
        // before the deadline, so the polls go on; if the wait runs out, its line names the last
        // such failure, which is then why the count was never seen to rise.
        const e = asRegpushError(err);
        if (e.code === 'E_ABORTED' || e.code === 'E_AUTH' || e.code === 'E_DENIED') throw err;
        pollFailed = e;
        this.logger.debug(`${source.registry}: polling ratelimit-remaining failed: ${e.message} [${e.code}]`);
      }
      // The count the poll brought: after a 429 that said the limit is used up, the first one that
      // leaves room for the next image ends that (spend), and the registry's GETs are sent again;
      // a poll that failed brought none, and the count last sent before it may be older than the 429.
      if (!(g.spent && pollFailed)) remaining = this.remaining(g) ?? remaining;
      const now = needNow();
      if (now === undefined) return;
      need = now;
      if (remaining - need >= min) {
        if (g.spent) {
          g.spent = undefined;
          // The mark of this group's reader (TransportStats.spendPulls keys them by whose pulls
          // they are); a group without a reader goes by the host's count: every reader's there.
          const stats = this.run.transport.stats;
          stats.restorePulls({ key: g.host }, g.who === undefined ? undefined : stats.pullsOwner({ key: g.host }, g.who));
        }
        this.logger.info(`${source.registry}: ratelimit-remaining is ${remaining} again; going on`);
        return;
      }
    }
  }
}

/** What a unit let through by the gate holds: its pull meter (absent without a gate) and what to call when it has ended. */
export interface GateTicket {
  pulls?: PullMeter;
  ended(): void;
}

/** What the gate knows of one unit let through: its manifest GETs at the source. */
interface UnitPulls {
  /** Started or queued and not seen answered. */
  pending: number;
  /** All it has announced. */
  announced: number;
  /** Whether one was answered. */
  answered: boolean;
  /** Sent and not answered. */
  inFlight: number;
  /** Let send every GET it has announced (the count left room for all of them). */
  cleared: boolean;
  /** Let through by the gate (at its first GET): counted among the registry's units until it ends. */
  charged: boolean;
}

/**
 * The gate's state for one reader of a registry (or, without a reader, for the registry). What its
 * count is weighed against — the pulls under way, what an image costs — is its own units' and its
 * peers' (RateGate.peers: the registry's group and its readers' are weighed together).
 */
class RegistryGate {
  constructor(
    /** Its key in RateGate.registries (RateGate.gateKey). */
    readonly key: string,
    /** The registry's record key (TransportStats.hostKey), asked each time (RateGate.gateKey). */
    private readonly hostNow: () => string,
    /** The credential identity its images read with (TransportStats.readerCount); undefined: the host's count. */
    readonly who: string | undefined,
    /** This group and those weighed with it (RateGate.peers), asked each time: groups are made as images come. */
    private readonly peers: () => RegistryGate[],
  ) {}
  /** The registry's record key (TransportStats.hostKey). */
  get host(): string {
    return this.hostNow();
  }
  /** The source registries (API hosts) of its images: a mirror's reader is weighed with the registry's group by them (RateGate.peers). */
  readonly sources = new Set<string>();
  /** Units let through and not ended. */
  readonly units = new Set<UnitPulls>();
  /** GETs of units under way that the count has no room for yet, in the order they came. */
  readonly held: { unit: UnitPulls; source: ImageReference; resolve: () => void; reject: (err: unknown) => void }[] = [];
  /** Units let through and not ended, its peers' too. */
  private weighed(): UnitPulls[] {
    return this.peers().flatMap((p) => [...p.units]);
  }
  /** How many units (its peers' too) are let through and not ended. */
  busy(): number {
    return this.weighed().length;
  }
  /** The pulls units other than `except` (its peers' too) will spend for sure: all they announced when let send it, else those in flight. */
  committed(except: UnitPulls): number {
    let n = 0;
    for (const u of this.weighed()) if (u !== except) n += u.cleared ? Math.max(u.pending, u.inFlight) : u.inFlight;
    return n;
  }
  /** GETs sent and not answered (its peers' too). */
  inFlight(): number {
    let n = 0;
    for (const u of this.weighed()) n += u.inFlight;
    return n;
  }
  /** The most pulls one of its own units has announced so far (0: none has read its top manifest yet). */
  largest = 0;
  /** The most pulls one unit of this group or its peers has announced so far (0: none has read its top manifest yet). */
  perUnit(): number {
    return Math.max(...this.peers().map((p) => p.largest));
  }
  /** What a unit not yet under way is taken to cost: as much as the largest seen, and one at least. */
  estimate(): number {
    return Math.max(1, this.perUnit());
  }
  /** Pulls the units in flight (its peers' too) have under way; a unit none of whose GETs has been answered yet counts the estimate. */
  underWay(): number {
    let n = 0;
    const estimate = this.estimate();
    for (const u of this.weighed()) n += u.answered ? u.pending : Math.max(estimate, u.pending);
    return n;
  }
  /** One of its own units has ended. */
  endedOne = false;
  /** Some unit of this group or its peers has ended (with no count sent by then, the registry sends none). */
  ended(): boolean {
    return this.peers().some((p) => p.endedOne);
  }
  /** The count was too low with nothing in flight: wait() is asking again. */
  holding = false;
  /** release() found GETs held with none in flight and looks again once the last answer has been told. */
  settling = false;
  /**
   * A manifest GET's 429 said the pull limit is used up (with --max-wait: RateGate.spend): the
   * count is taken as 0 until a poll brings one with room again.
   */
  spent?: RegpushError;
  /** When waiting out that 429 ends (--max-wait from the first one), kept until a GET is answered. */
  spentDeadline?: number;
  /** wait() gave up (--max-wait): this registry's units fail with that error. */
  stopped?: { err: unknown };
  /** Images whose first manifest GET waits to be let through, in order. */
  readonly queue: { source: ImageReference; unit: UnitPulls; resolve: () => void; reject: (err: unknown) => void }[] = [];
}
