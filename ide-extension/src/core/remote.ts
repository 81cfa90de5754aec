// Which GitHub repository a working copy belongs to, from its git remotes.

export interface GitHubRepo {
  host: string;
  owner: string;
  name: string;
  /** `owner/name`, as the Stackline API names a repository. */
  slug: string;
}

export interface Remote {
  name: string;
  fetchUrl?: string;
  pushUrl?: string;
}

// GitHub's own rules, as the API applies them: an owner of 1-39 letters, digits or single
// hyphens, a name of letters, digits, `.`, `_` and `-` that is not `.` or `..`.
const OWNER = /^[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}$/;
const NAME = /^[A-Za-z0-9._-]{1,100}$/;

/**
 * The host and `owner/name` of a remote URL in any form git accepts: `https://host/o/r(.git)`,
 * with credentials or a port, `ssh://[user@]host[:port]/o/r`, `git://`, `git+ssh://`, and the
 * scp-like `[user@]host:o/r`. Undefined for anything else (a local path, a bundle, a URL whose
 * path is not exactly an owner and a name).
 */
export function parseRemoteUrl(url: string): { host: string; owner: string; name: string } | undefined {
  const trimmed = url.trim();
  let host: string;
  let path: string;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(trimmed);
  if (scheme) {
    let parsed: URL;
    try {
      parsed = new URL(trimmed);
    } catch {
      return undefined;
    }
    if (!['https:', 'http:', 'ssh:', 'git:', 'git+ssh:', 'ssh+git:'].includes(parsed.protocol)) {
      return undefined;
    }
    host = parsed.hostname;
    path = decodeURIComponent(parsed.pathname);
  } else {
    // scp-like syntax: no scheme, a colon before the first slash.
    const scp = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\/\/)(.+)$/.exec(trimmed);
    if (!scp) return undefined;
    host = scp[1]!;
    path = scp[2]!;
  }
  const parts = path.replace(/^\/+/, '').replace(/\/+$/, '').split('/');
  if (parts.length !== 2) return undefined;
  const owner = parts[0]!;
  const name = parts[1]!.replace(/\.git$/i, '');
  if (!OWNER.test(owner) || !NAME.test(name) || name === '.' || name === '..') return undefined;
  return { host: host.toLowerCase(), owner, name };
}

function isGitHubHost(host: string, githubHosts: readonly string[]): boolean {
  const known = githubHosts.map((h) => h.trim().toLowerCase()).filter(Boolean);
  // ssh.github.com is GitHub's ssh-over-443 endpoint; www.github.com redirects to github.com.
  const aliases = (h: string): string[] => (h === 'github.com' ? [h, 'ssh.github.com', 'www.github.com'] : [h]);
  return known.flatMap(aliases).includes(host);
}

export type RemoteChoice =
  | { kind: 'github'; repo: GitHubRepo; remote: string }
  | { kind: 'none' }
  | { kind: 'notGitHub'; urls: string[] };

/**
 * The repository a working copy reports to: `origin` if it points at GitHub, then `upstream`,
 * then any other GitHub remote (by name, so the choice is stable).
 */
export function chooseRemote(remotes: readonly Remote[], githubHosts: readonly string[]): RemoteChoice {
  if (remotes.length === 0) return { kind: 'none' };
  const rank = (name: string): number => (name === 'origin' ? 0 : name === 'upstream' ? 1 : 2);
  const ordered = [...remotes].sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
  for (const remote of ordered) {
    for (const url of [remote.fetchUrl, remote.pushUrl]) {
      if (!url) continue;
      const parsed = parseRemoteUrl(url);
      if (parsed && isGitHubHost(parsed.host, githubHosts)) {
        return {
          kind: 'github',
          remote: remote.name,
          repo: { ...parsed, slug: `${parsed.owner}/${parsed.name}` },
        };
      }
    }
  }
  const urls = remotes.flatMap((r) => [r.fetchUrl ?? r.pushUrl ?? '']).filter(Boolean);
  return { kind: 'notGitHub', urls: urls.map(redactCredentials) };
}

/** A remote URL safe to show: `https://user:token@host/...` loses its credentials. */
export function redactCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1');
}
