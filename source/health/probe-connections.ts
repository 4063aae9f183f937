import { Agent, fetch as undiciFetch } from 'undici';

/**
 * The connections of one check, closed when it is over: probes do not share the process's HTTP
 * pool, nor keep connections from one check to the next. A request cut off while its connection
 * is being made (a check stopped because another failed, a timeout) leaves that connection open
 * and unused in a pool, and nginx keeps such a connection (one that has not sent a request yet) on
 * its old worker through a reload: it closes only idle kept-alive ones. A later check reusing it
 * is routed by the configuration from before the switch (found by deploy-ssh.test.ts: a 502 from
 * the colour a failed deploy had just stopped, seen by the next request through nginx).
 */
export type ProbeConnections = {
  readonly fetch: typeof globalThis.fetch;
  /** Closes every connection at once; what was in flight fails. */
  close(): Promise<void>;
};

export function probeConnections(): ProbeConnections {
  const agent = new Agent();
  return {
    // undici's own fetch: Node's built-in one takes dispatchers of its bundled undici only.
    fetch: ((input: Parameters<typeof globalThis.fetch>[0], init?: RequestInit) =>
      undiciFetch(
        input as Parameters<typeof undiciFetch>[0],
        { ...(init as object), dispatcher: agent } as Parameters<typeof undiciFetch>[1],
      )) as unknown as typeof globalThis.fetch,
    close: () => agent.destroy().catch(() => {}),
  };
}
