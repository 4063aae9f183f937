import type { Colour } from '../colours.js';

/** What the engine asks of whatever keeps a colour's server running on the host. */
export type ServerSpec = {
  readonly colour: Colour;
  readonly port: number;
  readonly release: string;
  /** The release folder: the server's working directory. */
  readonly releaseDir: string;
  /** POSIX sh text that execs the server (from runtime/server-command.ts). */
  readonly script: string;
  /** Non-secret environment for the server; secrets come from the env file. */
  readonly env: Readonly<Record<string, string>>;
  /** The release's environment: the first of these that exists is loaded (env-file.ts envFilesFor). */
  readonly envFiles: readonly string[];
  readonly logFile: string;
};

export type StopResult = {
  readonly wasRunning: boolean;
  readonly killed: boolean;
  /** Set when the record named a process that is not ours: what it is, in words. It was left alone. */
  readonly foreign?: string;
};

export interface Supervisor {
  readonly kind: 'process' | 'systemd';
  start(spec: ServerSpec): Promise<{ pid: number | null }>;
  /** SIGTERM, then SIGKILL once `graceMs` has passed; resolves when nothing of the colour runs. */
  stop(colour: Colour, options: { graceMs: number }): Promise<StopResult>;
  isRunning(colour: Colour): Promise<boolean>;
  /**
   * The release a colour is running, read from the host (not from state.json), or null when it
   * runs nothing. Lets a run that finds nginx and state.json disagreeing learn what really serves.
   */
  runningRelease?(colour: Colour): Promise<string | null>;
  /**
   * A script that prints the colour's main process id and exits 0, or exits non-zero when it runs
   * nothing: `status --watch` and `monitor` put it in their one sample script per tick, for the
   * CPU and memory of the server's process tree.
   */
  mainPidScript(colour: Colour): string;
}
