/**
 * Token scopes (distribution token spec: `type:name:action[,action…]`). Pure functions.
 * Scopes are requested up front for the whole operation so one token serves every request;
 * merging keeps the token request small and the cache key stable.
 */

import { InternalError } from '../errors.js';

/** Actions a repository scope can ask for. */
export type ScopeAction = 'pull' | 'push' | 'delete' | '*';

/** A parsed scope. */
export interface ParsedScope {
  /** Resource type, possibly with a class: `repository`, `repository(plugin)`, `registry`. */
  type: string;
  /** Resource name; may contain ':' (a host with a port), so it sits between the first and last ':'. */
  name: string;
  /** Actions in the order given. */
  actions: string[];
}

/** Builds `repository:<repo>:<actions>` with actions de-duplicated and sorted. */
export function repositoryScope(repo: string, actions: ScopeAction[]): string {
  if (!repo) throw new InternalError('repositoryScope: empty repository name');
  if (actions.length === 0) throw new InternalError('repositoryScope: no actions');
  return `repository:${repo}:${normaliseActions(actions).join(',')}`;
}

/** Parses one scope; undefined when it does not have the `type:name:actions` shape. */
export function parseScope(scope: string): ParsedScope | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first || last === scope.length - 1) return undefined;
  if (/\s/.test(scope)) return undefined;
  const name = scope.slice(first + 1, last);
  if (!name) return undefined;
  const actions = scope.slice(last + 1).split(',').filter((a) => a !== '');
  if (actions.length === 0) return undefined;
  return { type: scope.slice(0, first), name, actions };
}

/**
 * Merges scopes: entries may hold several space-separated scopes (as a challenge's `scope`
 * param does); the same resource's actions are united ('*' absorbs the rest); unparseable
 * scopes are kept verbatim. Output is sorted, so equal sets give equal arrays.
 */
export function mergeScopes(scopes: Iterable<string>): string[] {
  const byResource = new Map<string, Set<string>>();
  const opaque = new Set<string>();
  for (const entry of scopes) {
    for (const scope of entry.split(/\s+/)) {
      if (!scope) continue;
      const parsed = parseScope(scope);
      if (!parsed) {
        opaque.add(scope);
        continue;
      }
      const key = `${parsed.type}:${parsed.name}`;
      let set = byResource.get(key);
      if (!set) byResource.set(key, (set = new Set()));
      for (const a of parsed.actions) set.add(a);
    }
  }
  const out = [...opaque];
  for (const [resource, actions] of byResource) out.push(`${resource}:${normaliseActions([...actions]).join(',')}`);
  return out.sort();
}

/** Cache key for a scope set: order and duplicates do not matter. */
export function scopeKey(scopes: Iterable<string>): string {
  return mergeScopes(scopes).join(' ');
}

/** True when every scope in `wanted` is covered by `granted` (actions included). */
export function scopesCover(granted: Iterable<string>, wanted: Iterable<string>): boolean {
  const have = new Map<string, Set<string>>();
  const opaque = new Set<string>();
  for (const s of mergeScopes(granted)) {
    const p = parseScope(s);
    if (p) have.set(`${p.type}:${p.name}`, new Set(p.actions));
    else opaque.add(s);
  }
  for (const s of mergeScopes(wanted)) {
    const p = parseScope(s);
    if (!p) {
      if (!opaque.has(s)) return false;
      continue;
    }
    const acts = have.get(`${p.type}:${p.name}`);
    if (!acts) return false;
    if (acts.has('*')) continue;
    if (!p.actions.every((a) => acts.has(a))) return false;
  }
  return true;
}

function normaliseActions(actions: string[]): string[] {
  const set = new Set(actions.filter((a) => a !== ''));
  if (set.has('*')) return ['*'];
  return [...set].sort();
}
