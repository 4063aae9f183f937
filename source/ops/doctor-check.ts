import type { Config, Target } from '../config/load.js';
import { hostLayout, type HostLayout } from '../host/layout.js';
import { script, type ScriptPart } from '../remote/quote.js';
import type { RemoteCommand, RunResult, Transport } from '../remote/transport.js';

/** One doctor check as data, shared by the plain output and any other view. */
export type DoctorCheck = {
  readonly check: string;
  readonly ok: boolean;
  readonly detail: string;
  /** What to do about a failed check (or a warning); null when it passed. */
  readonly fix: string | null;
  /** Passed, but with something to fix before it bites (a server that would not survive a reboot). */
  readonly warning?: true;
};

export const pass = (check: string, detail: string): DoctorCheck => ({ check, ok: true, detail, fix: null });
export const fail = (check: string, detail: string, fix: string): DoctorCheck => ({ check, ok: false, detail, fix });
export const warn = (check: string, detail: string, fix: string): DoctorCheck => ({ check, ok: true, detail, fix, warning: true });

/** What every check gets: the connection, the target, who we are on the host. */
export type HostProbe = {
  readonly transport: Transport;
  readonly config: Config;
  readonly target: Target;
  readonly layout: HostLayout;
  readonly account: { readonly name: string; readonly uid: string };
  run(command: RemoteCommand, timeoutMs?: number): Promise<RunResult>;
  /** Values reach a script as environment variables: `NAME=value` cannot be built from quoted words. */
  sh(text: string | ScriptPart[], env?: Record<string, string>, timeoutMs?: number): Promise<RunResult>;
};

export async function createHostProbe(transport: Transport, config: Config, target: Target): Promise<HostProbe> {
  // Every command is bounded in time: doctor must answer on a host that is not ready.
  const run = (command: RemoteCommand, timeoutMs = 30_000) => transport.run(command, { timeoutMs });
  const who = await run({ script: 'id -un; id -u' }, 15_000);
  const [name = 'unknown', uid = ''] = who.stdout.trim().split('\n');
  return {
    transport,
    config,
    target,
    layout: hostLayout(target.path),
    account: { name, uid },
    run,
    sh: (text, env = {}, timeoutMs = 30_000) =>
      transport.run({ script: typeof text === 'string' ? text : script(...text) }, { env, timeoutMs }),
  };
}

export function lastLines(result: RunResult, count = 2): string {
  return `${result.stderr}\n${result.stdout}`
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(-count)
    .join(' | ');
}
