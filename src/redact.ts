/** Removes anything secret from text that may reach a log, an error message or --debug output. */

const QUERY_SECRET = /([?&](?:X-Amz-[A-Za-z-]+|sig|signature|se|sp|sv|token|access_token|refresh_token|password|Expires|Policy|Key-Pair-Id)=)[^&#\s]*/gi;

/** Redacts userinfo and signed query parameters from a URL (storage redirects carry signatures). */
export function redactUrl(url: string): string {
  let out = url.replace(/^(\w+:\/\/)[^/@\s]*@/, '$1***@');
  out = out.replace(QUERY_SECRET, '$1***');
  return out;
}

/** Redacts every occurrence of the given secrets and any Authorization header value in `text`. */
export function redactText(text: string, secrets: Iterable<string> = []): string {
  let out = text.replace(/(authorization\s*[:=]\s*)(basic|bearer)\s+[^\s,"']+/gi, '$1$2 ***');
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join('***');
  }
  return out;
}
