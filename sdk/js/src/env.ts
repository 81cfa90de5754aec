/** Commit, environment and release from the host's environment variables (Vercel, GitHub Actions, Render, Heroku, Netlify, Cloudflare Pages, Railway, Fly, ...). */

export type Env = Record<string, string | undefined>;

export interface Deploy {
  commitSha?: string;
  environment: string;
  release?: string;
}

/** First match wins: our own variable, then the hosts, then generic CI names. */
const COMMIT_VARS = [
  'STACKLINE_COMMIT_SHA',
  'VERCEL_GIT_COMMIT_SHA',
  'NEXT_PUBLIC_VERCEL_GIT_COMMIT_SHA',
  'GITHUB_SHA',
  'RENDER_GIT_COMMIT',
  'HEROKU_SLUG_COMMIT', // dyno metadata (runtime)
  'SOURCE_VERSION', // Heroku build
  'COMMIT_REF', // Netlify
  'CF_PAGES_COMMIT_SHA',
  'RAILWAY_GIT_COMMIT_SHA',
  'CI_COMMIT_SHA', // GitLab
  'CIRCLE_SHA1',
  'BITBUCKET_COMMIT',
  'SOURCE_COMMIT', // Coolify; also the usual build-arg name on Fly
  'GIT_COMMIT_SHA',
  'GIT_COMMIT',
  'GIT_SHA',
  'COMMIT_SHA',
];

const SHA = /^[0-9a-f]{40}$/;

/** The server accepts only a full 40-hex SHA; anything else is not sent rather than refused. */
export function normalizeSha(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toLowerCase();
  return SHA.test(s) ? s : undefined;
}

function nonEmpty(v: string | undefined): string | undefined {
  const s = typeof v === 'string' ? v.trim() : '';
  return s || undefined;
}

function environmentFrom(env: Env): string | undefined {
  const own = nonEmpty(env.STACKLINE_ENVIRONMENT);
  if (own) return own;
  const vercel = nonEmpty(env.VERCEL_ENV) ?? nonEmpty(env.NEXT_PUBLIC_VERCEL_ENV);
  if (vercel) return vercel; // production | preview | development
  const netlify = nonEmpty(env.CONTEXT);
  if (netlify && env.NETLIFY) return netlify === 'deploy-preview' ? 'preview' : netlify; // production | deploy-preview | branch-deploy | dev
  const railway = nonEmpty(env.RAILWAY_ENVIRONMENT_NAME) ?? nonEmpty(env.RAILWAY_ENVIRONMENT);
  if (railway) return railway;
  if (env.RENDER) return env.IS_PULL_REQUEST === 'true' ? 'preview' : 'production';
  if (env.CF_PAGES) return env.CF_PAGES_BRANCH && /^(main|master)$/.test(env.CF_PAGES_BRANCH) ? 'production' : 'preview';
  return nonEmpty(env.NODE_ENV);
}

export function detectDeploy(env: Env): Deploy {
  let commitSha: string | undefined;
  for (const name of COMMIT_VARS) {
    commitSha = normalizeSha(env[name]);
    if (commitSha) break;
  }
  return {
    commitSha,
    environment: environmentFrom(env) ?? 'production',
    release: nonEmpty(env.STACKLINE_RELEASE),
  };
}
