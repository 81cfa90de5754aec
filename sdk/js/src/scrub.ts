/** Default scrubbing: secrets in URL queries and fragments, credentials in text. Headers, cookies and environment variables are never collected at all. */

const DEFAULT_NAMES = [
  'pass', 'pwd', 'secret', 'token', 'key', 'auth', 'cred', 'session', 'sid', 'jwt', 'sig', 'code', 'cookie', 'otp', 'private', 'signature', 'ticket', 'nonce',
];
const FILTERED = '[Filtered]';

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export interface Scrubber {
  /** A URL (absolute or path) with userinfo removed and secret-looking query/fragment values filtered. */
  url(u: string): string;
  /** Free text (messages, stacks): filters `name=value` secrets, Bearer/Basic credentials and ingest keys. */
  text(s: string): string;
}

export function createScrubber(extra: readonly string[] = []): Scrubber {
  const names = DEFAULT_NAMES.concat(extra.filter((n) => typeof n === 'string' && n).map(escape)).join('|');
  // A parameter is secret when its name contains one of the words (over-filtering is the safe side).
  const isSecret = new RegExp(names, 'i');
  const inText = new RegExp(`([?&#;][^=&\\s#"'<>]*(?:${names})[^=&\\s#"'<>]*=)[^&\\s#"'<>:)]+`, 'gi');
  const creds = /\b(Bearer|Basic|Token)(\s+)[A-Za-z0-9._~+/=-]{6,}/g;
  const keys = /\bslk_[0-9A-Za-z]{42}\b/g;
  const userinfo = /\b([a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+:[^/\s@]+@/gi;
  // A query value that is an e-mail address is personal data whatever its parameter is called.
  const emailParam = /([?&#;][^=&\s#"'<>]+=)[^&\s#"'<>@/?=]+(?:@|%40)[^&\s#"'<>@/?=]+\.[a-z]{2,}(?=[&\s#"'<>]|$)/gi;
  const isEmail = /^[^@\s/?&=]+@[^@\s/?&=]+\.[a-z]{2,}$/i;

  function params(part: string): string {
    return part
      .split('&')
      .map((p) => {
        const eq = p.indexOf('=');
        if (eq < 0) return p;
        let name = p.slice(0, eq);
        try {
          name = decodeURIComponent(name);
        } catch {
          // keep it raw
        }
        let value = p.slice(eq + 1);
        try {
          value = decodeURIComponent(value);
        } catch {
          // keep it raw
        }
        return isSecret.test(name) || isEmail.test(value) ? `${p.slice(0, eq)}=${FILTERED}` : p;
      })
      .join('&');
  }

  return {
    url(u) {
      let s = u.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i, '$1');
      const hash = s.indexOf('#');
      let frag = '';
      if (hash >= 0) {
        frag = '#' + params(s.slice(hash + 1));
        s = s.slice(0, hash);
      }
      const q = s.indexOf('?');
      if (q >= 0) s = s.slice(0, q + 1) + params(s.slice(q + 1));
      return s + frag;
    },
    text(s) {
      if (s.indexOf('=') >= 0) {
        s = s.replace(inText, `$1${FILTERED}`);
        if (s.indexOf('@') >= 0 || s.indexOf('%40') >= 0) s = s.replace(emailParam, `$1${FILTERED}`);
      }
      if (s.indexOf('B') >= 0 || s.indexOf('T') >= 0) s = s.replace(creds, `$1$2${FILTERED}`);
      if (s.indexOf('slk_') >= 0) s = s.replace(keys, `slk_${FILTERED}`);
      if (s.indexOf('@') >= 0) s = s.replace(userinfo, `$1${FILTERED}@`);
      return s;
    },
  };
}
