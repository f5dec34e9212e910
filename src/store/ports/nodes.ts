/** Tether processes sharing the store. */
export interface NodeRegistry {
  /**
   * Records that broker process `owner` is alive until now + ttlMs (store clock); `ttlMs` 0
   * removes it (a clean shutdown). Other nodes read this to tell a dead node from a quiet one.
   */
  heartbeat(owner: string, ttlMs: number): Promise<void>;

  /** Owners whose heartbeat has not expired, by the store's clock, sorted (byte order). */
  liveOwners(): Promise<string[]>;

  /**
   * Runs `fn` only if no other node runs a section of the same name now (PostgreSQL: an advisory
   * lock); resolves null without running it otherwise. Used so that one janitor sweeps at a time.
   */
  runExclusive<T>(name: string, fn: () => Promise<T>): Promise<T | null>;
}
