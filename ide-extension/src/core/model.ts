// The API's JSON as the extension uses it, checked on arrival: a proxy's HTML page or a
// changed server must become a clear error, never `undefined` deep inside the editor.

export type Status = 'open' | 'resolved' | 'ignored';

export interface Culprit {
  file: string;
  line: number | null;
  column: number | null;
  function: string;
}

export interface Incident {
  id: string;
  repo: string;
  status: Status;
  title: string;
  exceptionType: string;
  message: string;
  culprit: Culprit | null;
  commitSha: string | null;
  environment: string | null;
  count: number;
  firstSeen: Date;
  lastSeen: Date;
  githubUrl: string | null;
  environments: string[];
  regression: { at: Date; commitSha: string | null } | null;
}

export interface Frame {
  file: string | null;
  line: number | null;
  column: number | null;
  function: string;
  inApp: boolean;
  absPath: string;
  githubUrl: string | null;
}

export interface IncidentDetail extends Incident {
  latestEvent: {
    id: string;
    occurredAt: Date;
    commitSha: string | null;
    environment: string | null;
    rawStack: string;
    frames: Frame[];
    processingErrors: string[];
  } | null;
}

export interface IncidentPage {
  incidents: Incident[];
  nextCursor: string | null;
}

export interface User {
  id: string;
  login: string;
  name: string | null;
}

export interface Session {
  accessToken: string;
  expiresAt: Date;
  refreshToken: string;
  refreshExpiresAt: Date;
  user: User;
}

export interface DeviceLogin {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  expiresIn: number;
  interval: number;
}

export class ShapeError extends Error {}

type Json = unknown;

function fail(path: string, wanted: string): never {
  throw new ShapeError(`${path || 'the answer'} is not ${wanted}`);
}

function object(v: Json, path: string): Record<string, Json> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'an object');
  return v as Record<string, Json>;
}

function string(v: Json, path: string): string {
  if (typeof v !== 'string') fail(path, 'a string');
  return v;
}

function optionalString(v: Json, path: string): string | null {
  return v === null || v === undefined ? null : string(v, path);
}

function integer(v: Json, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(path, 'a whole number');
  return v;
}

function optionalInteger(v: Json, path: string): number | null {
  return v === null || v === undefined ? null : integer(v, path);
}

function date(v: Json, path: string): Date {
  const parsed = new Date(string(v, path));
  if (Number.isNaN(parsed.getTime())) fail(path, 'a date');
  return parsed;
}

function array<T>(v: Json, path: string, item: (x: Json, p: string) => T): T[] {
  if (!Array.isArray(v)) fail(path, 'a list');
  return v.map((x, i) => item(x, `${path}[${i}]`));
}

function status(v: Json, path: string): Status {
  if (v !== 'open' && v !== 'resolved' && v !== 'ignored') fail(path, 'open, resolved or ignored');
  return v;
}

function culprit(v: Json, path: string): Culprit | null {
  if (v === null || v === undefined) return null;
  const o = object(v, path);
  return {
    file: string(o.file, `${path}.file`),
    line: optionalInteger(o.line, `${path}.line`),
    column: optionalInteger(o.column, `${path}.column`),
    function: string(o.function ?? '', `${path}.function`),
  };
}

export function parseIncident(v: Json, path = 'incident'): Incident {
  const o = object(v, path);
  const regression = o.regression === null || o.regression === undefined ? null : object(o.regression, `${path}.regression`);
  return {
    id: string(o.id, `${path}.id`),
    repo: string(o.repo, `${path}.repo`),
    status: status(o.status, `${path}.status`),
    title: string(o.title, `${path}.title`),
    exceptionType: string(o.exception_type, `${path}.exception_type`),
    message: string(o.message ?? '', `${path}.message`),
    culprit: culprit(o.culprit, `${path}.culprit`),
    commitSha: optionalString(o.commit_sha, `${path}.commit_sha`),
    environment: optionalString(o.environment, `${path}.environment`),
    count: integer(o.count, `${path}.count`),
    firstSeen: date(o.first_seen, `${path}.first_seen`),
    lastSeen: date(o.last_seen, `${path}.last_seen`),
    githubUrl: optionalString(o.github_url, `${path}.github_url`),
    environments: array(o.environments ?? [], `${path}.environments`, string),
    regression: regression
      ? { at: date(regression.at, `${path}.regression.at`), commitSha: optionalString(regression.commit_sha, `${path}.regression.commit_sha`) }
      : null,
  };
}

function frame(v: Json, path: string): Frame {
  const o = object(v, path);
  return {
    file: optionalString(o.file, `${path}.file`),
    line: optionalInteger(o.line, `${path}.line`),
    column: optionalInteger(o.column, `${path}.column`),
    function: string(o.function ?? '', `${path}.function`),
    inApp: o.in_app === true,
    absPath: string(o.abs_path ?? '', `${path}.abs_path`),
    githubUrl: optionalString(o.github_url, `${path}.github_url`),
  };
}

export function parseIncidentDetail(v: Json): IncidentDetail {
  const o = object(v, '');
  const event = o.latest_event === null || o.latest_event === undefined ? null : object(o.latest_event, 'latest_event');
  return {
    ...parseIncident(o, 'incident'),
    latestEvent: event
      ? {
          id: string(event.id, 'latest_event.id'),
          occurredAt: date(event.occurred_at, 'latest_event.occurred_at'),
          commitSha: optionalString(event.commit_sha, 'latest_event.commit_sha'),
          environment: optionalString(event.environment, 'latest_event.environment'),
          rawStack: string(event.raw_stack ?? '', 'latest_event.raw_stack'),
          frames: array(event.frames, 'latest_event.frames', frame),
          processingErrors: array(event.processing_errors ?? [], 'latest_event.processing_errors', string),
        }
      : null,
  };
}

export function parseIncidentPage(v: Json): IncidentPage {
  const o = object(v, '');
  return {
    incidents: array(o.incidents, 'incidents', (x, p) => parseIncident(x, p)),
    nextCursor: optionalString(o.next_cursor, 'next_cursor'),
  };
}

export function parseSession(v: Json): Session {
  const o = object(v, '');
  const user = object(o.user, 'user');
  return {
    accessToken: string(o.access_token, 'access_token'),
    expiresAt: date(o.expires_at, 'expires_at'),
    refreshToken: string(o.refresh_token, 'refresh_token'),
    refreshExpiresAt: date(o.refresh_expires_at, 'refresh_expires_at'),
    user: { id: string(user.id, 'user.id'), login: string(user.login, 'user.login'), name: optionalString(user.name, 'user.name') },
  };
}

export function parseDeviceLogin(v: Json): DeviceLogin {
  const o = object(v, '');
  return {
    deviceCode: string(o.device_code, 'device_code'),
    userCode: string(o.user_code, 'user_code'),
    verificationUri: string(o.verification_uri, 'verification_uri'),
    expiresIn: integer(o.expires_in, 'expires_in'),
    interval: integer(o.interval, 'interval'),
  };
}
