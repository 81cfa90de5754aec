// Links into the editor: `vscode://stackline.stackline/open?repo=owner/repo&incident=<id>`
// (and the same under `cursor://` or any editor's own scheme).

export interface OpenLink {
  repo: string;
  incident: string;
}

const REPO = /^[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}\/[A-Za-z0-9._-]{1,100}$/;
const INCIDENT = /^[A-Za-z0-9-]{1,64}$/;

/** The link's request, or the reason it is not one Stackline understands. */
export function parseOpenLink(path: string, query: string): OpenLink | { error: string } {
  if (path.replace(/\/+$/, '') !== '/open') return { error: `Stackline links open incidents (/open), not ${path || '/'}` };
  const params = new URLSearchParams(query);
  const repo = params.get('repo') ?? '';
  const incident = params.get('incident') ?? '';
  if (!REPO.test(repo) || repo.endsWith('/.') || repo.endsWith('/..')) return { error: 'the link names no repository (repo=owner/name)' };
  if (!INCIDENT.test(incident)) return { error: 'the link names no incident (incident=<id>)' };
  return { repo, incident };
}

export function openLink(scheme: string, extensionId: string, link: OpenLink): string {
  const query = new URLSearchParams({ repo: link.repo, incident: link.incident });
  return `${scheme}://${extensionId}/open?${query}`;
}
