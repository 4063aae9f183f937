import type { EnvSource } from '../engine/rollback-env.js';

export type GlobalOptions = {
  readonly config?: string;
  readonly target?: string;
  /** One host of a fleet target (config/fleet.ts narrowToHost). */
  readonly host?: string;
  readonly yes?: boolean;
  readonly json?: boolean;
  readonly force?: boolean;
  readonly verbose?: boolean;
  readonly color?: boolean;
  readonly acceptHostKey?: string;
  /** rollback: the environment to start the release with (engine/rollback-env.ts). */
  readonly envFrom?: EnvSource;
};
