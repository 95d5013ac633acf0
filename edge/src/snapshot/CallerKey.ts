/** A client key callers of the edge may present, as the stream delivers it. */
export interface CallerKey {
  /** Client id. */
  readonly id: string;
  /** SHA-256 of the secret the caller presents. */
  readonly secretSha256: Buffer;
  /** Web clients are restricted to their allowed origins. */
  readonly web: boolean;
  readonly allowedOrigins: readonly string[];
}
