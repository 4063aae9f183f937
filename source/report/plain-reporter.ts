import { Chalk, type ChalkInstance } from 'chalk';
import type { EngineEvent, FleetHostResult, FleetOutcome, Listener } from '../run/events.js';
import { changeMark } from './contract-change.js';
import type { StepId } from '../run/step-ids.js';
import { formatBytes, formatDuration } from '../run/format.js';

export type PlainReporterOptions = {
  readonly write: (text: string) => void;
  readonly color: boolean;
  /** Also print server and engine log lines as they come (otherwise only with failures). */
  readonly verbose?: boolean;
  /** GitHub Actions: wrap output in ::group:: and turn failures into ::error:: annotations. */
  readonly github?: boolean;
};

/**
 * The face of mcp-deploy without a terminal (CI, pipes, --yes): one line per step with its
 * duration, progress at coarse steps so logs stay short, failures with their details.
 */
export function createPlainReporter(options: PlainReporterOptions): Listener {
  const paint: ChalkInstance = new Chalk({ level: options.color ? 1 : 0 });
  const titles = new Map<StepId, string>();
  const lastProgressBucket = new Map<StepId, number>();
  const line = (text: string) => options.write(`${text}\n`);
  // Whether this run's failure was already shown under a step's ✖ (found by the bad-input tests:
  // an error outside any step, such as a missing requirements file, ended a run with no message).
  let stepFailureShown = false;
  // A fleet's hosts: each reported as a one-host run is, every line prefixed with its host.
  const hosts = new Map<string, Listener>();
  const hostReporter = (host: string): Listener => {
    let reporter = hosts.get(host);
    if (reporter === undefined) {
      const prefix = paint.cyan(`[${host}]`);
      reporter = createPlainReporter({
        ...options,
        github: false,
        write: (text) => options.write(text.replace(/^(?=.)/gm, `${prefix} `)),
      });
      hosts.set(host, reporter);
    }
    return reporter;
  };

  return (event: EngineEvent) => {
    switch (event.kind) {
      case 'host':
        hostReporter(event.host)(event.event);
        break;
      case 'fleet:start':
        line(
          paint.dim(
            `  ${event.hosts.length} host(s), fleet run ${event.runId}; batches: ${event.batches.map((batch) => batch.join(', ')).join(' | ')}`,
          ),
        );
        break;
      case 'fleet:batch':
        line(paint.bold(`${event.index === 0 && event.hosts.length === 1 ? 'canary' : `batch ${event.index}`}: ${event.hosts.join(', ')}`));
        break;
      case 'fleet:end':
        for (const host of event.hosts)
          line(`${host.ok ? paint.green('✔') : paint.red('✖')} ${host.host}: ${fleetHostLine(host, event.release)}`);
        line(
          event.ok ? paint.green(`Fleet: every host serves ${event.release}.`) : paint.red(`Fleet: ${fleetOutcomeLine(event.outcome)}.`),
        );
        if (options.github) line('::endgroup::');
        break;
      case 'run:start':
        stepFailureShown = false;
        // The declared titles name a step that fails before it starts; each step's own title replaces its row's.
        for (const step of event.steps) titles.set(step.id, step.title);
        if (options.github) line(`::group::mcp-deploy ${event.operation}${event.target ? ` → ${event.target}` : ''}`);
        line(paint.bold(`mcp-deploy ${event.operation}${event.target ? ` → ${event.target}` : ''}`));
        break;
      case 'step:start':
        titles.set(event.step, event.title);
        break;
      case 'step:progress': {
        // Quarter marks only: a CI log should not hold a line per uploaded file.
        const bucket = event.total > 0 ? Math.floor((event.done / event.total) * 4) : 0;
        if (bucket === (lastProgressBucket.get(event.step) ?? -1) || bucket >= 4) break;
        lastProgressBucket.set(event.step, bucket);
        if (bucket === 0) break;
        const amount =
          event.unit === 'bytes'
            ? `${formatBytes(event.done)} / ${formatBytes(event.total)}`
            : `${event.done} / ${event.total} ${event.unit}`;
        line(
          paint.dim(
            `  … ${titles.get(event.step) ?? event.step}: ${amount}${event.unit === 'seconds' && event.detail ? ` (${event.detail})` : ''}`,
          ),
        );
        break;
      }
      case 'step:done':
        line(
          `${paint.green('✔')} ${titles.get(event.step) ?? event.step}${event.detail ? paint.dim(` — ${event.detail}`) : ''} ${paint.dim(`(${formatDuration(event.ms)})`)}`,
        );
        break;
      case 'step:skipped':
        line(`${paint.yellow('-')} ${event.title} ${paint.dim(`(skipped: ${event.reason})`)}`);
        break;
      case 'step:failed': {
        stepFailureShown = true;
        const title = titles.get(event.step) ?? event.step;
        line(`${paint.red('✖')} ${title} ${paint.dim(`(${formatDuration(event.ms)})`)}`);
        for (const messageLine of event.message.split('\n')) line(`    ${paint.red(messageLine)}`);
        for (const detail of event.details ?? []) line(`    ${detail}`);
        if (event.hint) line(`    ${paint.cyan(`→ ${event.hint}`)}`);
        if (options.github) line(`::error title=${escapeAnnotation(title)}::${escapeAnnotation(event.message)}`);
        break;
      }
      case 'log':
        if (options.verbose) line(paint.dim(`  ${event.source === 'server' ? '│' : '·'} ${event.line}`));
        break;
      case 'rollback':
        if (event.phase === 'start') line(paint.yellow(`↺ Rolling back: ${event.reason}`));
        else if (event.phase === 'done')
          line(paint.yellow(`↺ Rolled back. ${event.serving ? `Serving: ${event.serving}` : 'Nothing is serving.'}`));
        else
          line(
            paint.red(
              `↺ Rollback failed: ${event.reason}. ${event.serving ? `Serving: ${event.serving}` : 'Check the host: mcp-deploy status'}`,
            ),
          );
        break;
      case 'audit':
        break;
      case 'release':
        line(paint.dim(`release ${event.release}${event.previous ? ` (active now: ${event.previous})` : ' (first deploy)'}`));
        break;
      case 'contract':
        line(`  ${event.summary}${event.against ? paint.dim(` (compared with ${event.against})`) : ''}`);
        for (const change of event.changes) line(`    ${changeMark(change, paint)} ${change.text}`);
        break;
      case 'notice':
        line(event.level === 'warn' ? paint.yellow(`! ${event.message}`) : paint.dim(`i ${event.message}`));
        break;
      case 'run:end':
        if (!event.ok && event.error && !stepFailureShown) line(`${paint.red('✖')} ${paint.red(event.error.message)}`);
        line(event.ok ? paint.green(`Done in ${formatDuration(event.ms)}.`) : paint.red(`Failed after ${formatDuration(event.ms)}.`));
        if (options.github) line('::endgroup::');
        break;
    }
  };
}

function fleetHostLine(host: FleetHostResult, release: string | null): string {
  const serving = host.serving ?? 'nothing serving';
  if (host.ok) return serving;
  if (host.rolledBack && host.switched) return `back on ${serving} (it had switched to ${release ?? 'the new release'})`;
  if (host.rolledBack) return `${serving}; the new release failed here and was undone (${host.error?.step ?? '?'})`;
  if (host.switched) return `${serving} (kept: rollout.onFailure is "halt")`;
  return `${serving}; never switched${host.error ? ` (${host.error.step}: ${host.error.message.split('\n')[0]})` : ''}`;
}

function fleetOutcomeLine(outcome: FleetOutcome): string {
  switch (outcome) {
    case 'ok':
      return 'done';
    case 'rolled-back':
      return 'a host failed; the hosts that had switched went back, so the fleet serves one release';
    case 'halted':
      return 'a host failed; the rollout halted and the hosts that had switched keep the new release (rollout.onFailure "halt")';
    case 'stopped':
      return 'stopped before any host switched; nothing serves differently';
    case 'interrupted':
      return 'interrupted; the hosts that had switched went back unless rollout.onFailure is "halt"';
  }
}

/** GitHub's workflow commands end at a newline and treat % specially. */
function escapeAnnotation(text: string): string {
  return text.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
}
