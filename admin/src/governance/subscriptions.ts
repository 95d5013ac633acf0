/**
 * GraphQL subscriptions over WebSocket (graphql-ws) for the inbox and the
 * dashboard. The server authenticates `connectionParams.authorization` once
 * per socket and closes it (4401) when that access token expires
 * (backend/src/middleware/installWebSockets.ts), so this client reconnects
 * with the new token whenever the session's tokens change, refreshes ahead
 * of expiry, and resubscribes with backoff after any failure. A subscriber
 * sees `onStatus("connected")` after each (re)connection and should refetch
 * then: events sent while it was away are not replayed.
 */
import { type Client, createClient } from "graphql-ws";

import { graphqlWsUrl } from "../api/config.ts";
import { ApiError } from "../api/errors.ts";
import { accessToken } from "../api/graphql.ts";
import { currentTokens, onTokens, type Tokens } from "../api/session.ts";

export type ConnectionStatus = "connecting" | "connected" | "reconnecting" | "closed";

export interface SubscriptionHandlers<T> {
  next(data: T): void;
  /** A GraphQL error of the operation itself (it is retried as well). */
  error?(error: ApiError): void;
}

export interface Subscriptions {
  /** Starts `query`; the returned function stops it. */
  subscribe<T>(
    query: string,
    variables: Record<string, unknown>,
    handlers: SubscriptionHandlers<T>,
  ): () => void;
  /** Calls `listener` on every change of the connection; returns the unsubscribe. */
  onStatus(listener: (status: ConnectionStatus) => void): () => void;
  readonly status: ConnectionStatus;
  /** Closes the socket and stops every subscription. */
  dispose(): void;
}

export interface SubscriptionOptions {
  /** Default: `graphqlWsUrl()` from the runtime configuration. */
  url?: () => string;
  /** The bearer access token for a new socket; default: the session's, refreshed when due. */
  token?: () => Promise<string | undefined>;
  /** Session token changes; default: `onTokens` of the session. */
  onTokens?: (listener: (tokens: Tokens | undefined) => void) => () => void;
  /** Session tokens now; default: `currentTokens`. */
  currentTokens?: () => Tokens | undefined;
  /** Delay before the n-th resubscription (0-based), in ms. */
  backoffMs?: (attempt: number) => number;
  /** How long before the access token expires to refresh it. */
  refreshAheadMs?: number;
  webSocketImpl?: unknown;
}

interface Registered {
  payload: { query: string; variables: Record<string, unknown> };
  handlers: SubscriptionHandlers<unknown>;
  stop?: () => void;
  attempts: number;
  timer?: ReturnType<typeof setTimeout>;
}

const defaultBackoff = (attempt: number) => Math.min(30_000, 1_000 * 2 ** attempt);

export function createSubscriptions(options: SubscriptionOptions = {}): Subscriptions {
  const url = options.url ?? (() => graphqlWsUrl());
  const token = options.token ?? (() => accessToken());
  const tokensNow = options.currentTokens ?? currentTokens;
  const backoff = options.backoffMs ?? defaultBackoff;
  const refreshAheadMs = options.refreshAheadMs ?? 60_000;
  const registered = new Set<Registered>();
  const statusListeners = new Set<(status: ConnectionStatus) => void>();
  let status: ConnectionStatus = "closed";
  let client: Client | undefined;
  let connectedToken: string | undefined;
  /** The current client's socket is open (the server acknowledged it). */
  let socketOpen = false;
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;

  const setStatus = (next: ConnectionStatus) => {
    if (next === status) return;
    status = next;
    for (const listener of statusListeners) listener(next);
  };

  const scheduleRefresh = () => {
    clearTimeout(refreshTimer);
    const tokens = tokensNow();
    if (!tokens || disposed) return;
    const delay = Math.max(0, tokens.expiresAt - Date.now() - refreshAheadMs);
    // Asking for the token refreshes it once it is near expiry; the new
    // tokens then reconnect the socket (below) before the server closes it.
    refreshTimer = setTimeout(
      () => void token().catch(() => undefined),
      Math.min(delay, 2 ** 31 - 1),
    );
  };

  const ensureClient = (): Client => {
    if (client) return client;
    socketOpen = false;
    setStatus("connecting");
    const created = createClient({
      url: url(),
      lazy: true,
      lazyCloseTimeout: 1_000,
      retryAttempts: Infinity,
      shouldRetry: () => true,
      ...(options.webSocketImpl ? { webSocketImpl: options.webSocketImpl } : {}),
      connectionParams: async () => {
        connectedToken = await token().catch(() => undefined);
        return connectedToken ? { authorization: `Bearer ${connectedToken}` } : {};
      },
      on: {
        connected: () => {
          if (client !== created) return;
          socketOpen = true;
          setStatus("connected");
          scheduleRefresh();
        },
        closed: () => {
          if (client !== created || disposed) return;
          socketOpen = false;
          setStatus(registered.size ? "reconnecting" : "closed");
        },
      },
    });
    client = created;
    return created;
  };

  const attach = (entry: Registered) => {
    const active = ensureClient();
    let finished = false;
    entry.stop = active.subscribe(entry.payload, {
      next: (result) => {
        entry.attempts = 0;
        if (result.errors?.length) {
          entry.handlers.error?.(ApiError.fromGraphQL(result.errors[0]!, 200));
          return;
        }
        if (result.data) entry.handlers.next(result.data);
      },
      error: (error) => {
        if (finished) return;
        finished = true;
        if (Array.isArray(error) && error[0]) {
          entry.handlers.error?.(ApiError.fromGraphQL(error[0] as never, 200));
        }
        retryLater(entry);
      },
      complete: () => {
        if (finished) return;
        finished = true;
        // The server ended it (e.g. access to the team ended): try again later.
        if (registered.has(entry)) retryLater(entry);
      },
    });
  };

  const retryLater = (entry: Registered) => {
    if (disposed || !registered.has(entry)) return;
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => {
      if (!registered.has(entry) || disposed) return;
      entry.attempts++;
      attach(entry);
    }, backoff(entry.attempts));
  };

  /** A new socket for every subscription (new token, or after logout/login). */
  const restart = () => {
    const old = client;
    client = undefined;
    socketOpen = false;
    for (const entry of registered) {
      const stop = entry.stop;
      entry.stop = undefined;
      stop?.();
    }
    void old?.dispose();
    if (!tokensNow()) {
      setStatus("closed");
      return;
    }
    for (const entry of registered) attach(entry);
  };

  const stopTokens = (options.onTokens ?? onTokens)((tokens) => {
    if (disposed) return;
    if (tokens?.accessToken === connectedToken && client) return;
    restart();
  });

  return {
    subscribe<T>(
      query: string,
      variables: Record<string, unknown>,
      handlers: SubscriptionHandlers<T>,
    ) {
      const entry: Registered = {
        payload: { query, variables },
        handlers: handlers as SubscriptionHandlers<unknown>,
        attempts: 0,
      };
      registered.add(entry);
      if (!disposed) attach(entry);
      if (socketOpen) setStatus("connected");
      return () => {
        registered.delete(entry);
        clearTimeout(entry.timer);
        entry.stop?.();
        // The socket closes lazily once unused; its `closed` event says so.
      };
    },
    onStatus(listener) {
      statusListeners.add(listener);
      return () => statusListeners.delete(listener);
    },
    get status() {
      return status;
    },
    dispose() {
      disposed = true;
      stopTokens();
      clearTimeout(refreshTimer);
      for (const entry of registered) {
        clearTimeout(entry.timer);
        entry.stop?.();
      }
      registered.clear();
      void client?.dispose();
      client = undefined;
      setStatus("closed");
    },
  };
}

let shared: Subscriptions | undefined;

/** The UI's one subscription client (one socket for every screen). */
export function subscriptions(): Subscriptions {
  shared ??= createSubscriptions();
  return shared;
}
