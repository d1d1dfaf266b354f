// Types for the untyped www-authenticate@0.6.3 (CommonJS). Only src/auth/challenge.ts imports it;
// we declare just the single-challenge parser we use.
declare module 'www-authenticate' {
  /** Result of parsing one challenge: `err` is set (and scheme/parms emptied) when parsing fails. */
  interface ParsedChallenge {
    scheme: string;
    parms: Record<string, string>;
    err?: string;
  }
  const wwwAuthenticate: {
    parsers: {
      WWW_Authenticate: new (header: string) => ParsedChallenge;
    };
  };
  export default wwwAuthenticate;
}
