import type { IncomingMessage } from "node:http";

import proxyAddr from "proxy-addr";

import { ConfigError } from "../config.ts";

/** Tells whether a peer address is a proxy whose `X-Forwarded-For` is believed. */
export type TrustProxy = (address: string, hop: number) => boolean;

/**
 * Compiles `BACKEND_TRUSTED_PROXIES` entries (addresses, CIDR ranges, or
 * `loopback`, `linklocal`, `uniquelocal`); none trusts no proxy, so the
 * socket's peer is the client.
 */
export function compileTrustedProxies(entries: string[]): TrustProxy {
  try {
    return proxyAddr.compile(entries);
  } catch (error) {
    throw new ConfigError(
      `BACKEND_TRUSTED_PROXIES must list IP addresses, CIDR ranges or loopback/linklocal/uniquelocal: ${(error as Error).message}`,
    );
  }
}

/**
 * The caller's address for rate limits: the socket's peer, or, when that
 * peer is a trusted proxy, the nearest `X-Forwarded-For` hop that is not
 * one (a client cannot forge its way past the proxies it came through).
 */
export function clientAddress(req: IncomingMessage | undefined, trust: TrustProxy): string {
  if (!req?.socket.remoteAddress) return "unknown";
  return proxyAddr(req, trust);
}
