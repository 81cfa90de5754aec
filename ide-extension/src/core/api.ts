// The Stackline API as the editor speaks it: the incidents of a repository (with ETags),
// one incident, its status, and the sign-ins an editor can use.

import {
  parseDeviceLogin,
  parseIncident,
  parseIncidentDetail,
  parseIncidentPage,
  parseSession,
  ShapeError,
  type DeviceLogin,
  type Incident,
  type IncidentDetail,
  type IncidentPage,
  type Session,
  type Status,
} from './model';

export type ApiErrorKind =
  /** No answer: the server is down, unreachable, or the connection broke. */
  | 'offline'
  /** No answer in time. */
  | 'timeout'
  | 'unauthorized'
  | 'forbidden'
  | 'notFound'
  | 'badRequest'
  | 'rateLimited'
  | 'unavailable'
  /** A 5xx the server did not explain. */
  | 'server'
  /** An answer that is not the API's JSON (a proxy's HTML page, a changed server). */
  | 'badResponse';

export class ApiError extends Error {
  constructor(
    readonly kind: ApiErrorKind,
    message: string,
    readonly detail: { status?: number; code?: string; field?: string | null; retryAfterSeconds?: number } = {},
  ) {
    super(message);
  }
}

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface ApiOptions {
  baseUrl: string;
  fetch?: FetchLike;
  /** Per request; a hung server is given up on after this. */
  timeoutMs?: number;
  userAgent?: string;
}

export type ListResult = { notModified: true } | { notModified: false; page: IncidentPage; etag: string | null };

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/**
 * The API's base URL from the setting: `https` anywhere, plain `http` only on this machine,
 * where nothing crosses a network. Throws with the reason otherwise.
 */
export function checkServerUrl(setting: string): string {
  let url: URL;
  try {
    url = new URL(setting.trim());
  } catch {
    throw new Error(`"${setting}" is not a URL`);
  }
  if (url.username || url.password) throw new Error('the server URL must not carry credentials');
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw new Error(`plain http is allowed only for this machine; use https://${url.host}${url.pathname}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${url.protocol} is not http or https`);
  return url.origin + url.pathname.replace(/\/+$/, '');
}

/** Retry-After in seconds, as a number of seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: Date = new Date()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}

export class StacklineApi {
  readonly baseUrl: string;
  private readonly fetchImpl: FetchLike;
  private readonly timeoutMs: number;
  private readonly userAgent: string | undefined;

  constructor(options: ApiOptions) {
    this.baseUrl = checkServerUrl(options.baseUrl);
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.userAgent = options.userAgent;
  }

  // Incidents: every call takes the access token.

  async listIncidents(
    token: string,
    repo: string,
    options: { status?: Status | 'all'; etag?: string | null; cursor?: string | null; limit?: number } = {},
  ): Promise<ListResult> {
    const query = new URLSearchParams({ repo, status: options.status ?? 'open', limit: String(options.limit ?? 100) });
    if (options.cursor) query.set('cursor', options.cursor);
    const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
    if (options.etag) headers['If-None-Match'] = options.etag;
    const response = await this.request('GET', `/api/incidents?${query}`, { headers });
    if (response.status === 304) return { notModified: true };
    return { notModified: false, page: this.parse(await this.json(response), parseIncidentPage), etag: response.headers.get('ETag') };
  }

  async getIncident(token: string, id: string): Promise<IncidentDetail> {
    const response = await this.request('GET', `/api/incidents/${encodeURIComponent(id)}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    return this.parse(await this.json(response), parseIncidentDetail);
  }

  async setStatus(token: string, id: string, status: Status): Promise<Incident> {
    const response = await this.request('PATCH', `/api/incidents/${encodeURIComponent(id)}`, {
      headers: { Authorization: `Bearer ${token}` },
      body: { status },
    });
    return this.parse(await this.json(response), (v) => parseIncident(v));
  }

  // Sign-in and sessions.

  async devLogin(login: string): Promise<Session> {
    return this.session(await this.request('POST', '/api/auth/dev-login', { body: { login } }));
  }

  async exchangeGitHubToken(githubToken: string): Promise<Session> {
    return this.session(await this.request('POST', '/api/auth/token', { body: { github_token: githubToken } }));
  }

  async deviceStart(): Promise<DeviceLogin> {
    const response = await this.request('POST', '/api/auth/device/start', { body: {} });
    return this.parse(await this.json(response), parseDeviceLogin);
  }

  async devicePoll(deviceCode: string): Promise<Session> {
    return this.session(await this.request('POST', '/api/auth/device/poll', { body: { device_code: deviceCode } }));
  }

  async refresh(refreshToken: string): Promise<Session> {
    return this.session(await this.request('POST', '/api/auth/refresh', { body: { refresh_token: refreshToken } }));
  }

  async logout(refreshToken: string): Promise<void> {
    await this.request('POST', '/api/auth/logout', { body: { refresh_token: refreshToken } });
  }

  private async session(response: Response): Promise<Session> {
    return this.parse(await this.json(response), parseSession);
  }

  private parse<T>(body: unknown, parser: (v: unknown) => T): T {
    try {
      return parser(body);
    } catch (error) {
      if (error instanceof ShapeError) throw new ApiError('badResponse', `Stackline answered JSON of another shape: ${error.message}`);
      throw error;
    }
  }

  private async json(response: Response): Promise<unknown> {
    const text = await this.readBody(response);
    try {
      return JSON.parse(text);
    } catch {
      throw new ApiError('badResponse', `${this.baseUrl} answered something that is not JSON (${describeType(response)})`);
    }
  }

  private async readBody(response: Response): Promise<string> {
    try {
      return await response.text();
    } catch (error) {
      throw this.transportError(error);
    }
  }

  private async request(
    method: string,
    path: string,
    options: { headers?: Record<string, string>; body?: unknown },
  ): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
    if (this.userAgent) headers['User-Agent'] = this.userAgent;
    const init: RequestInit = { method, headers, redirect: 'error' };
    if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    }
    const controller = new AbortController();
    init.signal = controller.signal;
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    let response: Response;
    try {
      response = await this.fetchImpl(this.baseUrl + path, init);
      if (response.ok || response.status === 304) {
        // The body is read under the same timeout: a server may hang after the headers.
        const text = await response.text();
        const bodyless = response.status === 204 || response.status === 304;
        return new Response(bodyless ? null : text, { status: response.status, headers: response.headers });
      }
      throw await this.errorFrom(response);
    } catch (error) {
      if (error instanceof ApiError) throw error;
      throw this.transportError(error, controller.signal.aborted);
    } finally {
      clearTimeout(timer);
    }
  }

  private transportError(error: unknown, aborted = false): ApiError {
    if (aborted) return new ApiError('timeout', `${this.baseUrl} did not answer within ${Math.round(this.timeoutMs / 1000)} s`);
    const cause = (error as { cause?: { code?: string } })?.cause?.code;
    return new ApiError('offline', `cannot reach ${this.baseUrl}${cause ? ` (${cause})` : ''}`);
  }

  private async errorFrom(response: Response): Promise<ApiError> {
    let code: string | undefined;
    let message: string | undefined;
    let field: string | null | undefined;
    const text = await response.text().catch(() => '');
    try {
      const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; field?: unknown } };
      if (body && typeof body.error === 'object' && body.error !== null) {
        code = typeof body.error.code === 'string' ? body.error.code : undefined;
        message = typeof body.error.message === 'string' ? body.error.message : undefined;
        field = typeof body.error.field === 'string' ? body.error.field : null;
      }
    } catch {
      // Not the API's error JSON: a proxy or another server answered.
    }
    const retryAfterSeconds = parseRetryAfter(response.headers.get('Retry-After'));
    const detail = { status: response.status, ...(code ? { code } : {}), field: field ?? null, ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) };
    const says = message ?? `HTTP ${response.status} (${describeType(response)})`;
    const status = response.status;
    if (status === 401) return new ApiError('unauthorized', says, detail);
    if (status === 403) return new ApiError('forbidden', says, detail);
    if (status === 404) return new ApiError('notFound', says, detail);
    if (status === 429) return new ApiError('rateLimited', says, detail);
    if (status === 503 || status === 502 || status === 504) return new ApiError('unavailable', says, detail);
    if (status >= 500) return new ApiError('server', says, detail);
    if (message === undefined) return new ApiError('badResponse', `Stackline answered ${says}`, detail);
    return new ApiError('badRequest', says, detail);
  }
}

function describeType(response: Response): string {
  const type = response.headers.get('Content-Type')?.split(';')[0]?.trim();
  return type ? type : 'no content type';
}
