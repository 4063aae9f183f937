import type { Config, Target } from '../config/load.js';
import { readServerEnv } from '../engine/env-file.js';
import { notifySecrets } from '../notify/secrets.js';
import { createScrubber } from '../run/scrub.js';

/**
 * `mcp-deploy config`: the config as a run would use it for one target — `${VAR}`s filled in,
 * defaults applied, local paths absolute — with every secret masked: notification URLs keep only
 * their host, the webhook secret and the SMTP password are `***`, and the server's environment
 * is shown by name (where each comes from), never by value.
 */

export const masked = '***';

export type EnvNameView = { readonly name: string; readonly required: boolean; readonly from: 'env.file' | 'environment' | null };

export type ConfigView = {
  readonly file: string;
  readonly target: Target;
  /** Every target's name; only the chosen one is shown in full. */
  readonly targets: readonly string[];
  readonly config: Record<string, unknown>;
  /** The server's environment by name: from env.file, from this process's environment, or missing (null). */
  readonly serverEnv: readonly EnvNameView[];
  /** Why env.file could not be read, when it could not (a deploy would stop there). */
  readonly envFileProblem?: string;
};

export function configView(
  config: Config,
  target: Target,
  environment: Readonly<Record<string, string | undefined>> = process.env,
): ConfigView {
  const { file, targets, notify, ...rest } = config;
  let serverEnv: EnvNameView[];
  let envFileProblem: string | undefined;
  try {
    serverEnv = serverEnvNames(config, environment);
  } catch (error) {
    envFileProblem = error instanceof Error ? error.message : String(error);
    serverEnv = serverEnvNames({ ...config, env: { required: config.env.required } }, environment);
  }
  return {
    file,
    target,
    targets: Object.keys(targets),
    config: { ...rest, ...(notify === undefined ? {} : { notify: maskNotify(notify) }) },
    serverEnv,
    ...(envFileProblem === undefined ? {} : { envFileProblem }),
  };
}

function maskNotify(notify: NonNullable<Config['notify']>): NonNullable<Config['notify']> {
  // The scrubber's own rendering of a URL credential: its host and "…".
  const hostOnly = createScrubber({ urls: notifySecrets(notify).urls, values: [] });
  return {
    ...notify,
    ...(notify.slack ? { slack: { webhookUrl: hostOnly(notify.slack.webhookUrl) } } : {}),
    ...(notify.discord ? { discord: { webhookUrl: hostOnly(notify.discord.webhookUrl) } } : {}),
    ...(notify.webhook
      ? { webhook: { url: hostOnly(notify.webhook.url), ...(notify.webhook.secret === undefined ? {} : { secret: masked }) } }
      : {}),
    ...(notify.email ? { email: { ...notify.email, ...(notify.email.pass === undefined ? {} : { pass: masked }) } } : {}),
  };
}

function serverEnvNames(config: Config, environment: Readonly<Record<string, string | undefined>>): EnvNameView[] {
  const fromFile = new Set(
    config.env.file === undefined ? [] : Object.keys(readServerEnv({ env: { required: [], file: config.env.file } }, {})),
  );
  const all = readServerEnv(config, environment);
  const names = [...new Set([...config.env.required, ...Object.keys(all)])].sort();
  return names.map((name) => ({
    name,
    required: config.env.required.includes(name),
    from: fromFile.has(name) ? 'env.file' : all[name] !== undefined ? 'environment' : null,
  }));
}

/** `key.path: value` lines, one per leaf, for reading and for grep. */
export function configLines(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) {
    if (value.every((item) => item === null || typeof item !== 'object')) return [`${prefix}: ${JSON.stringify(value)}`];
    return value.flatMap((item, index) => configLines(item, `${prefix}[${index}]`));
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, item]) => item !== undefined);
    if (entries.length === 0) return [`${prefix}: {}`];
    return entries.flatMap(([key, item]) => configLines(item, prefix === '' ? key : `${prefix}.${key}`));
  }
  return [`${prefix}: ${JSON.stringify(value)}`];
}
