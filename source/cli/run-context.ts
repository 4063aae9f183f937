import { hostname, userInfo } from 'node:os';
import { narrowToHost, rolloutOf } from '../config/fleet.js';
import { DeployError } from '../errors.js';
import { type FleetContext, memberContext } from '../engine/fleet/fleet-context.js';
import { type Config, loadConfig, selectTarget, type Target } from '../config/load.js';
import type { EngineContext } from '../engine/context.js';
import { serverSecretValues } from '../engine/env-file.js';
import { createNotifier, type Notifier } from '../notify/notifier.js';
import { notifySecrets } from '../notify/secrets.js';
import type { UnknownHostKey } from '../remote/connect.js';
import { EventBus } from '../run/events.js';
import { createScrubber } from '../run/scrub.js';
import { createPlainReporter } from '../report/plain-reporter.js';
import { faultCheckpoint } from './fault-injection.js';
import { terminalHostKeyPrompt } from './host-key-prompt.js';
import { openTransport } from './open-transport.js';
import type { GlobalOptions } from './options.js';
import type { Output } from './output.js';
import { canAsk } from './terminal.js';

export type RunContext = EngineContext & {
  readonly output: Output;
  /**
   * The same safe stop as SIGINT, for the terminal app: in raw mode Ctrl-C arrives as a key
   * press, not as a signal, and must still roll back and unlock rather than kill the process.
   */
  readonly interrupt: () => void;
  /** Deploy news (Slack, Discord, webhook, email): a bus subscriber; flush it once the run is over. */
  readonly notifier: Notifier;
  readonly dispose: () => void;
};

/**
 * Loads the config, picks the target, wires the plain reporter, and turns Ctrl-C / SIGTERM into
 * an abort the engine handles (roll back, unlock). A second Ctrl-C does not kill the run: leaving
 * the host half-switched is worse than waiting a few more seconds.
 */
export function createRunContext(
  options: GlobalOptions,
  output: Output,
  face: { plain: boolean; confirmHostKey?: (question: UnknownHostKey) => Promise<boolean> },
): RunContext {
  const config: Config = loadConfig({ ...(options.config ? { file: options.config } : {}) });
  const target: Target = narrowToHost(selectTarget(config, options.target), options.host);
  // From here on, nothing we print shows a secret the config knows of, even when a server prints it.
  const secretValues = serverSecretValues(config);
  const channelSecrets = notifySecrets(config.notify);
  output.mask(createScrubber({ urls: channelSecrets.urls, values: [...channelSecrets.values, ...secretValues] }));
  const bus = new EventBus();
  const unsubscribe = face.plain
    ? bus.on(
        createPlainReporter({
          write: (text) => output.write(text),
          color: output.color,
          verbose: options.verbose ?? false,
          github: process.env['GITHUB_ACTIONS'] === 'true',
        }),
      )
    : () => {};
  const operator = process.env['MCP_DEPLOY_OPERATOR'] ?? safeUser();
  const notifier = createNotifier({ config, operator, localHost: hostname(), secretValues });
  const stopNotifier = bus.on(notifier.listener);
  const controller = new AbortController();
  let interrupts = 0;
  const stopSafely = (cause: string) => {
    interrupts += 1;
    if (interrupts === 1) {
      bus.emit({ kind: 'notice', level: 'warn', message: `${cause}: stopping safely — rolling back what must be and releasing the lock…` });
      controller.abort(new Error(`interrupted by ${cause}`));
    } else {
      bus.emit({
        kind: 'notice',
        level: 'warn',
        message: 'Still stopping safely; please wait. Quitting now could leave the host half-switched.',
      });
    }
  };
  const onSignal = (signal: NodeJS.Signals) => stopSafely(signal);
  // The terminal went away (the operator's SSH session dropped: SIGHUP, and reads and writes
  // fail with EIO, in either order) or whoever read our output did (EPIPE): stop safely all the
  // same rather than die where we stand with the lock held. What can no longer be shown is dropped.
  let lost = false;
  const onLost = (cause: string) => {
    if (lost) return;
    lost = true;
    stopSafely(cause);
  };
  const onHangup = () => onLost('SIGHUP');
  const onStreamError = () => onLost('a closed terminal or output pipe');
  // stdin only for the terminal app, which reads it anyway: touching it in plain mode could keep a piped run alive.
  const streams = face.plain ? [process.stdout, process.stderr] : [process.stdout, process.stderr, process.stdin];
  for (const stream of streams) stream.on('error', onStreamError);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onHangup);
  const checkpoint = faultCheckpoint();
  return {
    config,
    target,
    bus,
    operator,
    localHost: hostname(),
    connect: () => {
      if (target.fleet !== undefined) return Promise.reject(fleetNeedsHost(target));
      const ask = canAsk(options) ? (face.confirmHostKey ?? terminalHostKeyPrompt()) : undefined;
      return openTransport(target, {
        ...(options.acceptHostKey ? { acceptHostKey: options.acceptHostKey } : {}),
        ...(ask ? { confirmUnknownHostKey: ask } : {}),
      });
    },
    signal: controller.signal,
    ...(checkpoint ? { checkpoint } : {}),
    output,
    interrupt: () => stopSafely('Ctrl-C'),
    notifier,
    dispose: () => {
      unsubscribe();
      stopNotifier();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGHUP', onHangup);
      // The stream error listeners stay: what is printed after the run may meet a terminal that is gone too.
    },
  };
}

/** A command that works on one host, asked of a fleet target. */
function fleetNeedsHost(target: Target): DeployError {
  const names = (target.fleet ?? []).map((member) => member.name);
  return new DeployError('usage', `Target ${target.name} is a fleet of ${names.length} hosts; this command works on one.`, {
    hint: `Name it with --host: ${names.join(', ')}.`,
  });
}

/**
 * The fleet run of a deploy or a rollback: the run's context, and for each host a context of its
 * own (its target, its connection, its events tagged with its name). Null for a one-host target.
 */
export function fleetContextOf(
  context: RunContext,
  options: GlobalOptions,
  face: { confirmHostKey?: (question: UnknownHostKey) => Promise<boolean> } = {},
): FleetContext | null {
  const fleet = context.target.fleet;
  if (fleet === undefined) return null;
  const ask = canAsk(options) ? (face.confirmHostKey ?? terminalHostKeyPrompt()) : undefined;
  return {
    base: context,
    rollout: rolloutOf(context.target),
    members: fleet.map((host) =>
      memberContext(context, host.name, host.target, () => openTransport(host.target, ask ? { confirmUnknownHostKey: ask } : {})),
    ),
  };
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env['USER'] ?? 'unknown';
  }
}
