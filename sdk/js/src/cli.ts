/**
 * `stackline sourcemaps upload DIR --commit SHA`: the source maps of a build, sent to Stackline
 * so that frames of the minified bundles show the original file, line and function.
 *
 * Runs in CI after the build, before or after the deploy. Node 18+ only (fetch, fs), no
 * dependencies, like the SDK it ships with.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { detectDeploy } from './env.js';

const USAGE = `Usage: stackline sourcemaps upload DIR (--commit SHA | --release NAME) [options]

Uploads every *.map file under DIR for one build. Each map names the bundle file beside it:
DIR/assets/app-3f2a.js.map is the map of "assets/app-3f2a.js" (or of PREFIX + that name).

  --commit SHA       the build's commit, all 40 hex digits (default: the CI's commit variable,
                     else \`git rev-parse HEAD\`)
  --release NAME     name the build by release instead of commit
  --project ID       the Stackline project (or STACKLINE_PROJECT_ID)
  --repo OWNER/REPO  find the project by its repository instead
  --url-prefix P     prepended to each bundle name, e.g. "~/static/js/" or ".next/"
  --endpoint URL     Stackline's API (or STACKLINE_ENDPOINT)
  --dry-run          list what would be uploaded, send nothing

Credentials, from the environment: STACKLINE_TOKEN (a Stackline access token), or
STACKLINE_GITHUB_TOKEN (a GitHub token with read:user, exchanged for one).`;

interface Options {
  dir: string;
  commit?: string;
  release?: string;
  project?: string;
  repo?: string;
  urlPrefix: string;
  endpoint?: string;
  dryRun: boolean;
}

class UsageError extends Error {}

function parseArgs(argv: string[]): Options {
  const [group, action, dir, ...rest] = argv;
  if (group !== 'sourcemaps' || action !== 'upload' || !dir || dir.startsWith('--')) {
    throw new UsageError('expected: stackline sourcemaps upload DIR ...');
  }
  const options: Options = { dir, urlPrefix: '', dryRun: false };
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i];
    const value = (): string => {
      const next = rest[++i];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case '--commit': options.commit = value(); break;
      case '--release': options.release = value(); break;
      case '--project': options.project = value(); break;
      case '--repo': options.repo = value(); break;
      case '--url-prefix': options.urlPrefix = value(); break;
      case '--endpoint': options.endpoint = value(); break;
      case '--dry-run': options.dryRun = true; break;
      default: throw new UsageError(`unknown option ${flag}`);
    }
  }
  if (options.commit && options.release) throw new UsageError('give --commit or --release, not both');
  return options;
}

/** Every *.map under dir, with the bundle name it belongs to. */
export function findMaps(dir: string, urlPrefix: string): { file: string; bundle: string }[] {
  const found: { file: string; bundle: string }[] = [];
  const walk = (folder: string): void => {
    for (const name of readdirSync(folder).sort()) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) {
        if (name !== 'node_modules') walk(path);
      } else if (name.endsWith('.map')) {
        const bundle = relative(dir, path).slice(0, -'.map'.length).split(sep).join('/');
        found.push({ file: path, bundle: urlPrefix + bundle });
      }
    }
  };
  walk(dir);
  return found;
}

function gitHead(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

async function call(url: string, init: RequestInit): Promise<unknown> {
  const response = await fetch(url, init);
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
    } catch {
      // not JSON: show the text as it came
    }
    throw new Error(`${init.method ?? 'GET'} ${new URL(url).pathname} answered ${response.status}: ${message}`);
  }
  return text ? JSON.parse(text) : undefined;
}

async function accessToken(endpoint: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (env.STACKLINE_TOKEN) return env.STACKLINE_TOKEN;
  if (env.STACKLINE_GITHUB_TOKEN) {
    const session = (await call(`${endpoint}/api/auth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ github_token: env.STACKLINE_GITHUB_TOKEN }),
    })) as { access_token: string };
    return session.access_token;
  }
  throw new UsageError('set STACKLINE_TOKEN or STACKLINE_GITHUB_TOKEN');
}

async function projectId(endpoint: string, token: string, options: Options, env: NodeJS.ProcessEnv): Promise<string> {
  const id = options.project ?? env.STACKLINE_PROJECT_ID;
  if (id) return id;
  if (!options.repo) throw new UsageError('give --project ID or --repo OWNER/REPO');
  const { projects } = (await call(`${endpoint}/api/projects`, {
    headers: { Authorization: `Bearer ${token}` },
  })) as { projects: { id: string; repo: string }[] };
  const wanted = options.repo.toLowerCase();
  const project = projects.find((p) => p.repo.toLowerCase() === wanted);
  if (!project) throw new UsageError(`none of your projects is mapped to ${options.repo}`);
  return project.id;
}

/** The build the maps belong to, as the upload's query names it. */
function buildOf(options: Options, env: NodeJS.ProcessEnv): Record<string, string> {
  if (options.release) return { release: options.release };
  const commit = options.commit ?? detectDeploy(env).commitSha ?? gitHead();
  if (!commit || !/^[0-9a-f]{40}$/i.test(commit)) {
    throw new UsageError('no commit: give --commit with all 40 hex digits, or --release');
  }
  return { commit_sha: commit.toLowerCase() };
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // Asking for help is not a mistake: usage on stdout, exit 0.
  if (argv.some((a) => a === '--help' || a === '-h' || a === 'help')) {
    console.log(USAGE);
    return 0;
  }
  let options: Options;
  try {
    options = parseArgs(argv);
  } catch (error) {
    console.error(`stackline: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  try {
    const build = buildOf(options, env);
    const maps = findMaps(options.dir, options.urlPrefix);
    if (maps.length === 0) throw new UsageError(`no *.map files under ${options.dir}`);
    if (options.dryRun) {
      for (const map of maps) console.log(`would upload ${map.file} as ${map.bundle}`);
      return 0;
    }
    const endpoint = (options.endpoint ?? env.STACKLINE_ENDPOINT ?? '').replace(/\/+$/, '');
    if (!endpoint) throw new UsageError('give --endpoint or set STACKLINE_ENDPOINT');
    const token = await accessToken(endpoint, env);
    const project = await projectId(endpoint, token, options, env);
    for (const map of maps) {
      const query = new URLSearchParams({ bundle: map.bundle, ...build });
      await call(`${endpoint}/api/projects/${encodeURIComponent(project)}/sourcemaps?${query}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: readFileSync(map.file),
      });
      console.log(`uploaded ${map.bundle}`);
    }
    const named = build.release ? `release ${build.release}` : `commit ${build.commit_sha}`;
    console.log(`${maps.length} source map(s) uploaded for ${named}`);
    return 0;
  } catch (error) {
    const message = (error as Error).message;
    console.error(`stackline: ${message}${error instanceof UsageError ? `\n\n${USAGE}` : ''}`);
    return error instanceof UsageError ? 2 : 1;
  }
}
