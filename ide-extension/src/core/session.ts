// The signed-in session: kept in the editor's secret storage only, renewed before the access
// token expires, and given up (once) when the server no longer honours it.

import { ApiError, type StacklineApi } from './api';
import type { Session, User } from './model';

/** The editor's SecretStorage, or anything with its three calls. */
export interface SecretStore {
  get(key: string): PromiseLike<string | undefined>;
  store(key: string, value: string): PromiseLike<void>;
  delete(key: string): PromiseLike<void>;
}

/** Thrown when there is no session, or the server refused it and a refresh could not help. */
export class SignInRequired extends Error {
  constructor(readonly reason: 'signedOut' | 'expired') {
    super(reason === 'signedOut' ? 'not signed in to Stackline' : 'the Stackline session has ended; sign in again');
  }
}

interface Stored {
  accessToken: string;
  expiresAt: string;
  refreshToken: string;
  refreshExpiresAt: string;
  user: User;
}

/**
 * Renew when less than this is left of the access token's life. A random part spreads the
 * renewals of several editor windows that share one secret store, so that two rarely spend
 * the same refresh token (the server would take that for theft and end the session).
 */
const RENEW_BEFORE_MS = 5 * 60_000;
const RENEW_SPREAD_MS = 2 * 60_000;

export class SessionManager {
  private renewing: Promise<Session> | undefined;
  private readonly key: string;
  private readonly renewMargin: number;

  constructor(
    private readonly api: StacklineApi,
    private readonly secrets: SecretStore,
    private readonly now: () => number = Date.now,
    random: () => number = Math.random,
  ) {
    // One session per server: switching the server URL does not send a token elsewhere.
    this.key = `stackline.session:${api.baseUrl}`;
    this.renewMargin = RENEW_BEFORE_MS + Math.floor(random() * RENEW_SPREAD_MS);
  }

  async current(): Promise<Session | undefined> {
    const raw = await this.secrets.get(this.key);
    if (!raw) return undefined;
    try {
      const stored = JSON.parse(raw) as Stored;
      return {
        accessToken: stored.accessToken,
        expiresAt: new Date(stored.expiresAt),
        refreshToken: stored.refreshToken,
        refreshExpiresAt: new Date(stored.refreshExpiresAt),
        user: stored.user,
      };
    } catch {
      await this.secrets.delete(this.key);
      return undefined;
    }
  }

  async save(session: Session): Promise<void> {
    const stored: Stored = {
      accessToken: session.accessToken,
      expiresAt: session.expiresAt.toISOString(),
      refreshToken: session.refreshToken,
      refreshExpiresAt: session.refreshExpiresAt.toISOString(),
      user: session.user,
    };
    await this.secrets.store(this.key, JSON.stringify(stored));
  }

  /** Ends the session on the server (best effort) and forgets it here. */
  async signOut(): Promise<void> {
    const session = await this.current();
    await this.secrets.delete(this.key);
    if (session) await this.api.logout(session.refreshToken).catch(() => undefined);
  }

  /** An access token good for a while yet, renewed first if it is close to expiry. */
  async accessToken(): Promise<string> {
    const session = await this.current();
    if (!session) throw new SignInRequired('signedOut');
    if (session.expiresAt.getTime() - this.now() > this.renewMargin) return session.accessToken;
    return (await this.renew(session)).accessToken;
  }

  /**
   * Runs `call` with the access token; on a 401 renews once and tries again. A 401 that a
   * renewal cannot fix ends the session here and throws SignInRequired.
   */
  async withToken<T>(call: (token: string) => Promise<T>): Promise<T> {
    const token = await this.accessToken();
    try {
      return await call(token);
    } catch (error) {
      if (!(error instanceof ApiError) || error.kind !== 'unauthorized') throw error;
    }
    const session = await this.current();
    if (!session) throw new SignInRequired('signedOut');
    // Another window may have renewed already: its token is worth one try before spending ours.
    if (session.accessToken !== token) {
      try {
        return await call(session.accessToken);
      } catch (error) {
        if (!(error instanceof ApiError) || error.kind !== 'unauthorized') throw error;
      }
    }
    const renewed = await this.renew(session);
    try {
      return await call(renewed.accessToken);
    } catch (error) {
      if (error instanceof ApiError && error.kind === 'unauthorized') {
        await this.secrets.delete(this.key);
        throw new SignInRequired('expired');
      }
      throw error;
    }
  }

  private renew(session: Session): Promise<Session> {
    this.renewing ??= (async () => {
      try {
        // Another window sharing this secret store may have renewed already; spending the
        // refresh token it spent would end the session for both.
        const latest = await this.current();
        if (latest && latest.refreshToken !== session.refreshToken && latest.expiresAt.getTime() - this.now() > this.renewMargin) {
          return latest;
        }
        if (session.refreshExpiresAt.getTime() <= this.now()) {
          await this.secrets.delete(this.key);
          throw new SignInRequired('expired');
        }
        let renewed: Session;
        try {
          renewed = await this.api.refresh(session.refreshToken);
        } catch (error) {
          if (error instanceof ApiError && (error.kind === 'unauthorized' || error.kind === 'badRequest')) {
            // Spent, revoked, or from another server's database: this session is over.
            await this.secrets.delete(this.key);
            throw new SignInRequired('expired');
          }
          throw error;
        }
        await this.save(renewed);
        return renewed;
      } finally {
        this.renewing = undefined;
      }
    })();
    return this.renewing;
  }
}
