/**
 * What the transport saw, for the JSON report: requests sent, requests retried, and the rate-limit
 * headers registries returned. Docker Hub answers manifest requests with
 * `ratelimit-limit: 100;w=21600` and `ratelimit-remaining: 76;w=21600`
 * (https://docs.docker.com/docker-hub/usage/pulls/); other registries may send the same IETF
 * draft headers (draft-ietf-httpapi-ratelimit-headers). Only numbers are kept, never other headers.
 */
import type { HttpResponse, Middleware } from './types.js';
import type { HttpStats, RateLimitSeen } from './stats-report.js';

/** Parses `100;w=21600` (or a bare `100`) into the number and the window. */
export function parseRateLimitHeader(value: string | undefined): { value: number; window?: number } | undefined {
  if (value === undefined) return undefined;
  // Repeated headers arrive joined with ", "; the first one counts.
  const first = value.split(',')[0]!.trim();
  const m = /^(\d{1,12})\s*(?:;(.*))?$/.exec(first);
  if (!m) return undefined;
  const w = /(?:^|;)\s*w\s*=\s*(\d{1,12})\s*(?:;|$)/.exec(m[2] ?? '');
  return { value: Number(m[1]), ...(w ? { window: Number(w[1]) } : {}) };
}

/** A registry's count as its headers said it, unparsed: `remaining` is `ratelimit-remaining`, `limit` is `ratelimit-limit` (HttpResponse.countBefore). */
export interface CountSent {
  remaining: string;
  limit?: string;
}

/** True when `headers` carry a count (a `ratelimit-limit` or `ratelimit-remaining` that parses). */
function hasCount(headers: Record<string, string>): boolean {
  return parseRateLimitHeader(headers['ratelimit-limit']) !== undefined || parseRateLimitHeader(headers['ratelimit-remaining']) !== undefined;
}

/**
 * The count a failed answer stands for: its own rate-limit headers, or, where it carries none (a
 * 429 of Docker Hub's pull limit, documented by its body alone), the count its host sent last in
 * the operation (countBefore, set by statsMiddleware).
 */
export function countOf(res: Pick<HttpResponse, 'headers' | 'countBefore'>): Partial<CountSent> {
  if (hasCount(res.headers) || !res.countBefore) return { remaining: res.headers['ratelimit-remaining'], limit: res.headers['ratelimit-limit'] };
  return res.countBefore;
}

/** How a registry is reached: `https`, `http`, or `auto` (a loopback or insecure-TLS host, whichever it speaks: registry/endpoint.ts). */
export type HostScheme = 'https' | 'http' | 'auto';

/**
 * A host as the stats are asked about it: host[:port] (a registry's API host, RegistryClient's
 * `endpoint.host`), with the scheme it is reached by where known (a bare string: `auto`); or a
 * record key the stats gave (hostKey, PullsReader.host), taken as it is: keyed again as `auto`,
 * `127.0.0.1:443` of a registry spoken to in plain HTTP would lose its port.
 */
export type StatsHost = string | { host: string; scheme: HostScheme } | { key: string };

/**
 * The form a host's records are kept under: host[:port] as a URL's `host` gives it, the scheme's
 * default port left out, so that a registry named `reg.example.com:443` (its API host,
 * RegistryClient's `endpoint.host`) finds the counts its answers from `https://reg.example.com/v2/…`
 * brought. Only the scheme's own default: `http://reg:443` is not `https://reg` (another server, or
 * another port of one). Where the scheme is probed (`auto`) and not yet known, either default is
 * left out; a registry client keys its host by the scheme its probe settled on once it has
 * (RegistryHttp.statsHost), as the URLs of its answers are keyed.
 */
export function hostKey(host: string, scheme: HostScheme = 'auto'): string {
  const h = host.toLowerCase();
  if (scheme === 'https') return h.replace(/:443$/, '');
  if (scheme === 'http') return h.replace(/:80$/, '');
  return h.replace(/:(?:443|80)$/, '');
}

/** The record key of `at` (hostKey). */
function keyOf(at: StatsHost): string {
  if (typeof at === 'string') return hostKey(at);
  return 'key' in at ? at.key : hostKey(at.host, at.scheme);
}

/** The key of `whose` pulls at `at` (spendPulls): the host's key first, so that a host's keys share a prefix. */
function spentKey(at: StatsHost, whose: string): string {
  return `${keyOf(at)}\n${whose}`;
}

/** The record key of `url`'s host (URL's `host` leaves out its own scheme's default port, and that one only), or undefined for a URL that does not parse. */
function urlHostKey(url: string): string | undefined {
  return URL.canParse(url) ? new URL(url).host.toLowerCase() : undefined;
}

/** Accumulates what a transport saw. */
export class TransportStats {
  private requests = 0;
  private retries = 0;
  private readonly limits = new Map<string, RateLimitSeen>();
  /** Hosts that have answered a manifest request without rate-limit headers (manifestAnswered). */
  private readonly quiet = new Set<string>();
  private readonly watchers = new Set<(seen: RateLimitSeen) => void>();
  /** Readers (host and whose pulls: spentKey) whose pull limit a manifest GET found used up, with the limit's words (spendPulls). */
  private readonly spent = new Map<string, string>();
  /** Per host (keyOf), what to call when a reader's pull limit there is noted used up (whenSpent). */
  private readonly spendWatchers = new Map<string, Set<() => void>>();
  /** Per host (keyOf), the used-up marks still being decided (spendPending). */
  private readonly pendingSpends = new Map<string, Set<Promise<void>>>();
  /** Per host and credential identity, the `docker-ratelimit-source` its manifest answers named (rateLimitSource). */
  private readonly sources = new Map<string, string>();
  /** Per host and credential identity, the owner key pullsOwner first gave it: kept for the run. */
  private readonly owners = new Map<string, string>();
  /** Per host and `docker-ratelimit-source`, the owner key its readers go by (the first one given to a reader it was named for). */
  private readonly accounts = new Map<string, string>();
  /** Per reader (host and credential identity: spentKey), the last `ratelimit-remaining` an answer to it carried (readerCount). */
  private readonly readerCounts = new Map<string, number>();
  /** Per host, the last `ratelimit-remaining` it sent and the `ratelimit-limit` with it, as sent (countSent). */
  private readonly lastSent = new Map<string, CountSent>();

  /** How the counts are keyed: `at` (host[:port]) lower-cased, its scheme's default port left out (`https://reg:443` is `reg`): hostKey. */
  hostKey(at: StatsHost): string {
    return keyOf(at);
  }

  /** Counts one request and records its rate-limit headers, if any. */
  response(url: string, headers: Record<string, string>): void {
    this.requests++;
    const limit = parseRateLimitHeader(headers['ratelimit-limit']);
    const remaining = parseRateLimitHeader(headers['ratelimit-remaining']);
    if (!limit && !remaining) return;
    const host = urlHostKey(url);
    if (host === undefined) return;
    const seen = this.limits.get(host) ?? { registry: host };
    if (limit) seen.limit = limit.value;
    if (remaining) {
      this.lastSent.set(host, { remaining: headers['ratelimit-remaining']!, ...(limit ? { limit: headers['ratelimit-limit'] } : {}) });
      seen.remaining = remaining.value;
      seen.lowestRemaining = Math.min(seen.lowestRemaining ?? Infinity, remaining.value);
    }
    const w = limit?.window ?? remaining?.window;
    if (w !== undefined) seen.windowSeconds = w;
    this.limits.set(host, seen);
    for (const w of this.watchers) w({ ...seen });
  }

  /**
   * Notes the `ratelimit-remaining` of an answer `host` sent to a request made with credential
   * identity `who` (registry-http.ts, for every answer that carries one): Docker Hub counts pulls
   * per account, or per address for anonymous reads, so the host's last count (response()) may be
   * another reader's; a sync's pull-limit gate goes by its reader's (readerRemaining). The
   * watchers are told again, the host's record as it is, so that a gate waiting on this reader's
   * count sees it.
   */
  readerCount(host: StatsHost, who: string, remaining: number): void {
    this.readerCounts.set(spentKey(host, who), remaining);
    const seen = this.limits.get(keyOf(host));
    if (seen) for (const w of this.watchers) w({ ...seen });
  }

  /** The last count an answer to `who` at `host` carried (readerCount), or undefined before any. */
  readerRemaining(host: StatsHost, who: string): number | undefined {
    return this.readerCounts.get(spentKey(host, who));
  }

  /** Calls `watcher` with each rate-limit record as headers update it; returns the way to stop. */
  watch(watcher: (seen: RateLimitSeen) => void): () => void {
    this.watchers.add(watcher);
    return () => void this.watchers.delete(watcher);
  }

  /** The last count the host of `url` sent (its `ratelimit-remaining`, with the `ratelimit-limit` beside it), or undefined before any. */
  countSent(url: string): CountSent | undefined {
    const host = urlHostKey(url);
    const last = host === undefined ? undefined : this.lastSent.get(host);
    return last && { ...last };
  }

  /** True once `host` (host[:port], as in its URLs) has sent rate-limit headers. */
  sentLimits(host: StatsHost): boolean {
    return this.limits.has(keyOf(host));
  }

  /**
   * Notes that `host` answered a manifest request with a 2xx carrying `headers` (the registry
   * client calls it: only it knows a manifest request from another): where they carry no
   * rate-limit header, the registry has shown that it announces no pull limit (shownLimits). The
   * headers themselves were recorded by response().
   */
  manifestAnswered(host: StatsHost, headers: Record<string, string>): void {
    if (hasCount(headers)) return;
    this.quiet.add(keyOf(host));
  }

  /** True once `host` has shown whether it announces a pull limit: it has sent rate-limit headers, or answered a manifest request (2xx) without them. */
  shownLimits(host: StatsHost): boolean {
    return this.limits.has(keyOf(host)) || this.quiet.has(keyOf(host));
  }

  /**
   * Notes that the pulls of `whose` (an account or address: pullsOwner) at `host` are used up, as a
   * manifest GET refused so said (`limit` says it: "ratelimit-remaining 0 of 100 per 6 h"): the
   * registry clients of the operation that read as `whose` send that host no manifest GET after
   * that (pullsSpent), whichever image or tag they read for, until an answer to one of them
   * carries a count with pulls left again (registry/manifests.ts: restorePulls for `whose`) or a
   * caller waiting for the count finds that it has (restorePulls). Docker Hub counts pulls per account, or per address for anonymous reads
   * (https://docs.docker.com/docker-hub/usage/pulls/): one account's used-up limit says nothing of
   * another's, so the mark is not the host's.
   */
  spendPulls(host: StatsHost, whose: string, limit: string): void {
    const key = spentKey(host, whose);
    if (!this.spent.has(key)) this.spent.set(key, limit);
    for (const fn of [...(this.spendWatchers.get(keyOf(host)) ?? [])]) fn();
  }

  /**
   * Notes that an answer at `host` may say a reader's pull limit is used up, which `decided`
   * settles (having called spendPulls, or not): a 429 whose headers say so, whose body may still
   * name a short wait (GHCR's `retry-after: 1.16676ms`: then it is an ordinary 429, retried), and
   * whose reader may not be known yet (a credential lookup, made only now: an anonymous read of a
   * registry that counts no pulls makes none). The host's manifest GETs let go and still unsent
   * are cut at once (whenSpent), as by spendPulls, before the connection the 429 came on is handed
   * to one of them; those checked meanwhile wait for the decision (spendsPending). `answered`: the
   * watcher of the GET the answer came to, not cut by it (a retry of it is the retry level's).
   */
  spendPending(host: StatsHost, decided: Promise<unknown>, answered?: () => void): void {
    const key = keyOf(host);
    let pending = this.pendingSpends.get(key);
    if (!pending) this.pendingSpends.set(key, (pending = new Set()));
    const settled: Promise<void> = decided.then(
      () => undefined,
      () => undefined,
    );
    pending.add(settled);
    void settled.then(() => {
      pending.delete(settled);
      if (pending.size === 0 && this.pendingSpends.get(key) === pending) this.pendingSpends.delete(key);
    });
    for (const fn of [...(this.spendWatchers.get(key) ?? [])]) if (fn !== answered) fn();
  }

  /** Settles once every used-up mark being decided at `host` (spendPending) now is; undefined while none is. */
  spendsPending(host: StatsHost): Promise<void> | undefined {
    const pending = this.pendingSpends.get(keyOf(host));
    return pending ? Promise.all(pending).then(() => undefined) : undefined;
  }

  /**
   * Calls `fn` whenever a reader's pull limit at `host` is noted used up (spendPulls), or may be
   * (spendPending), until the function returned is called: a manifest GET let go before the mark,
   * and not on the wire yet (waiting for a token, a socket or its connection), is cut then and
   * checked again (registry/manifests.ts). Every reader's mark at the host calls it: whose pulls the GET spends
   * may be known only then (the 429 may name them: rateLimitSource).
   */
  whenSpent(host: StatsHost, fn: () => void): () => void {
    const key = keyOf(host);
    let fns = this.spendWatchers.get(key);
    if (!fns) this.spendWatchers.set(key, (fns = new Set()));
    fns.add(fn);
    return () => {
      fns.delete(fn);
      if (fns.size === 0 && this.spendWatchers.get(key) === fns) this.spendWatchers.delete(key);
    };
  }

  /**
   * Undoes spendPulls() at `host`, for every reader (a sync's pull-limit gate, which keeps its
   * counts per host: sync/rate-gate.ts, once a poll has been told there are pulls left again), or
   * for `whose` only (an answer to that reader with pulls left: registry/manifests.ts).
   */
  restorePulls(host: StatsHost, whose?: string): void {
    if (whose !== undefined) {
      this.spent.delete(spentKey(host, whose));
      return;
    }
    const prefix = spentKey(host, '');
    for (const key of [...this.spent.keys()]) if (key.startsWith(prefix)) this.spent.delete(key);
  }

  /** What spendPulls() noted for `whose` at `host`, or undefined while its pull limit is not known to be used up. */
  pullsSpent(host: StatsHost, whose: string): string | undefined {
    return this.spent.get(spentKey(host, whose));
  }

  /** True while some reader's pull limit at `host` is noted used up (spendPulls): only then is it worth asking whose a GET's pulls are. */
  anyPullsSpent(host: StatsHost): boolean {
    const prefix = spentKey(host, '');
    for (const key of this.spent.keys()) if (key.startsWith(prefix)) return true;
    return false;
  }

  /**
   * Notes the `docker-ratelimit-source` a manifest answer to a request sent with credential
   * identity `who` carried (Docker Hub names there whose count it was: the address, or the
   * account's id), so that pullsOwner keys that identity's pulls by it.
   */
  rateLimitSource(host: StatsHost, who: string, source: string | undefined): void {
    const value = source?.split(',')[0]?.trim();
    if (!value) return;
    const reader = spentKey(host, who);
    this.sources.set(reader, value);
    // A reader whose owner key is fixed already (pullsOwner) keeps it; the account's other readers go by it too.
    const owner = this.owners.get(reader);
    if (owner === undefined) return;
    const account = spentKey(host, value);
    const accountOwner = this.accounts.get(account);
    if (accountOwner === undefined) this.accounts.set(account, owner);
    // A reader given its own credential key before any answer named its account (a GET asked for
    // it while another login's limit was used up), with no mark under that key yet, joins the key
    // the account already has: nothing set under its own key would be lost, and the account's
    // used-up mark now refuses its GETs too.
    else if (owner !== accountOwner && owner.startsWith('credential:') && !this.spent.has(spentKey(host, owner))) this.owners.set(reader, accountOwner);
  }

  /**
   * Whose pulls a manifest GET sent to `host` with credential identity `who` spends: the
   * `docker-ratelimit-source` that identity's answers named (two logins of one account share it),
   * else the identity itself. The key first given to a reader is its key for the run: a
   * `docker-ratelimit-source` named only later (a free HEAD's answer after the 429, which carried
   * none) does not move it, or the used-up mark set under the first key (spendPulls, and a sync's
   * breaker) would no longer be found, and the reader's next GET would be sent to be refused in
   * turn. A reader of the same account named later goes by that key too.
   */
  pullsOwner(host: StatsHost, who: string): string {
    const reader = spentKey(host, who);
    const kept = this.owners.get(reader);
    if (kept !== undefined) return kept;
    const source = this.sources.get(reader);
    const account = source === undefined ? undefined : spentKey(host, source);
    const owner = account === undefined ? `credential:${who}` : (this.accounts.get(account) ?? `source:${source}`);
    this.owners.set(reader, owner);
    if (account !== undefined && !this.accounts.has(account)) this.accounts.set(account, owner);
    return owner;
  }

  /** Counts a request that failed at the socket (no response). */
  failed(): void {
    this.requests++;
  }

  /** Counts one retry. */
  retried(): void {
    this.retries++;
  }

  /** A copy of the counters. */
  snapshot(): HttpStats {
    return { requests: this.requests, retries: this.retries, rateLimits: [...this.limits.values()].map((l) => ({ ...l })) };
  }
}

/** Middleware feeding `stats` with every response (place it just above the socket). */
export function statsMiddleware(stats: TransportStats): Middleware {
  return (next) => async (req) => {
    try {
      const res = await next(req);
      stats.response(res.url || req.url, res.headers);
      // Docker Hub documents the 429 of a pull limit used up by its body alone
      // (https://docs.docker.com/docker-hub/usage/pulls/#view-pull-rate-and-limit), and says its
      // count comes with valid manifest answers (docker/docs#11707): a 429 without a count of its
      // own stands for the count its host sent last (the HEAD that checked the image, at 0), so
      // that a used-up limit is told from a passing throttle (quotaSpent) either way.
      if (res.status === 429 && !hasCount(res.headers)) {
        const before = stats.countSent(res.url || req.url);
        if (before) res.countBefore = before;
      }
      return res;
    } catch (err) {
      stats.failed();
      throw err;
    }
  };
}
