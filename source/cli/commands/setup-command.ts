import { createInterface } from 'node:readline/promises';
import { fleetHostsFor } from '../fleet-fan-out.js';
import { onEveryHost } from './fleet-commands.js';
import type { ChalkInstance } from 'chalk';
import { DeployError } from '../../errors.js';
import { checkTimerSpan } from '../../ops/monitor-timer.js';
import { applySetup, assertRootWritable, installByHand, planSetup, type Consent, type SetupPlan } from '../../ops/setup.js';
import { writeSupervisor } from '../../ops/supervisor-choice.js';
import { installRenewal } from '../../ops/setup-edge.js';
import { obtainCertificate, tlsConfigError } from '../../ops/tls.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { createRunContext } from '../run-context.js';

/**
 * `mcp-deploy setup [--target NAME] [--yes]`: shows everything it would do on the host, then does
 * it after a yes at the prompt (in a terminal) or with --yes. Without either it writes nothing.
 */
export async function setupCommand(
  options: GlobalOptions & { readonly monitorTimer?: string | boolean; readonly tls?: boolean },
  output: Output,
): Promise<number> {
  const hosts = fleetHostsFor(options);
  if (hosts !== null) return onEveryHost(hosts, options, output, 'setup', setupCommand, { ask: true });
  const context = createRunContext({ ...options, json: false }, output, { plain: true });
  const { paint } = output;
  const write = (text: string) => output.write(text);
  const transport = await context.connect();
  try {
    const every = options.monitorTimer === true ? '5min' : options.monitorTimer === false ? undefined : options.monitorTimer;
    if (options.tls) {
      const wrong = tlsConfigError(context.target);
      if (wrong !== null) throw wrong;
    }
    const plan = await planSetup(
      transport,
      context.config,
      context.target,
      {},
      {
        ...(every === undefined ? {} : { monitorTimer: checkTimerSpan(every) }),
        ...(options.tls ? { tls: true } : {}),
      },
    );
    write(`${paint.bold(`mcp-deploy setup: target ${context.target.name} (${transport.label})`)}\n\n${renderPlan(plan, paint)}\n`);
    if (!hasWork(plan) && !options.tls) {
      write(paint.green('Nothing to write: the host is laid out already.\n'));
      return 0;
    }
    // What doctor would say, said before any question: asking, then failing at mkdir, helps nobody.
    assertRootWritable(plan);
    const consent = options.yes
      ? alwaysYes
      : process.stdin.isTTY && process.stdout.isTTY
        ? promptConsent(process.stdin, process.stdout)
        : null;
    if (consent === null) {
      throw new DeployError('usage', 'Nothing was written: there is no terminal to ask in.', {
        hint: 'Review the plan above, then run mcp-deploy setup --yes to apply it.',
      });
    }
    try {
      const outcomes = await applySetup(transport, plan, consent);
      if (outcomes === null) {
        write('Nothing was written.\n');
        return 0;
      }
      if (plan.supervisor !== null) {
        writeSupervisor(context.config.file, context.target.name, plan.supervisor.to);
        write(
          `${paint.green('✔')} ${'changed'.padEnd(9)} ${context.config.file} — targets.${context.target.name}.supervisor is now "${plan.supervisor.to}"\n`,
        );
      }
      for (const outcome of outcomes) {
        const mark =
          outcome.result === 'created' || outcome.result === 'replaced'
            ? paint.green('✔')
            : outcome.result === 'by hand'
              ? paint.yellow('!')
              : paint.dim('=');
        write(`${mark} ${outcome.result.padEnd(9)} ${outcome.path}${outcome.note ? paint.dim(` — ${outcome.note}`) : ''}\n`);
      }
      if (options.tls) {
        const got = await obtainCertificate(transport, context.config, context.target);
        if (!got.ok) throw new DeployError('host-state', `No certificate: ${got.why}.`, { hint: got.hint });
        write(`${paint.green('✔')} ${'obtained'.padEnd(9)} ${got.detail}\n`);
        const renewal = await installRenewal(transport, context.config, context.target);
        write(`${renewal.ok ? paint.green('✔') : paint.yellow('!')} ${'renewal'.padEnd(9)} ${renewal.note}\n`);
        write('Add the TLS server block shown above to the site (it includes the TLS include), then reload nginx.\n');
      }
      write(`\nNext: mcp-deploy doctor --target ${context.target.name}, then mcp-deploy --target ${context.target.name}.\n`);
      if (plan.supervisor?.to === 'systemd') {
        write(
          `A server already running keeps running as it is; mcp-deploy restart --target ${context.target.name} moves it under systemd.\n`,
        );
      }
      return 0;
    } finally {
      consent.close?.();
    }
  } finally {
    await transport.close();
    context.dispose();
  }
}

type Paint = ChalkInstance;

export function renderPlan(plan: SetupPlan, paint: Paint): string {
  const lines: string[] = [];
  if (plan.supervisor !== null) {
    const { from, to, why } = plan.supervisor;
    lines.push('Config:', `  ${paint.yellow('~')} "supervisor": "${from}" → "${to}": ${why}`, '');
  }
  lines.push('Folders:');
  for (const dir of plan.dirs)
    lines.push(dir.exists ? `  ${paint.dim('=')} ${dir.path} ${paint.dim('(exists)')}` : `  ${paint.green('+')} ${dir.path}`);
  lines.push('', 'Files:');
  for (const file of plan.files) {
    if (file.state === 'same') {
      lines.push(`  ${paint.dim('=')} ${file.path} ${paint.dim(`(${file.title}: already as setup would write it)`)}`);
      continue;
    }
    if (file.state === 'live') {
      lines.push(`  ${paint.dim('=')} ${file.path} ${paint.dim(`(${file.title}: exists; never replaced, deploys rewrite it)`)}`);
      continue;
    }
    const how = !file.writable
      ? paint.yellow(`only root may write it: install it with the commands below`)
      : file.state === 'differs'
        ? paint.yellow('exists and differs: you will be asked before it is replaced')
        : 'to create';
    lines.push(`  ${file.state === 'differs' ? paint.yellow('~') : paint.green('+')} ${file.path} — ${file.title}; ${how}`);
    lines.push(...boxed(file.writable ? file.content : installByHand(file), paint));
  }
  if (plan.keysFile !== null) {
    lines.push(
      plan.keysFile.exists
        ? `  ${paint.dim('=')} ${plan.keysFile.path} ${paint.dim('(API keys: exists; mcp-deploy keys changes it)')}`
        : `  ${paint.green('+')} ${plan.keysFile.path} — API keys nginx accepts, mode 600, made with mcp-deploy's own probe key (never shown); to create`,
    );
  }
  for (const item of plan.review) {
    lines.push('', `For you to review — ${item.title}:`, ...boxed(item.text, paint));
  }
  return lines.join('\n');
}

function boxed(text: string, paint: Paint): string[] {
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((line) => `    ${paint.dim('│')} ${line}`);
}

function hasWork(plan: SetupPlan): boolean {
  return (
    plan.supervisor !== null ||
    plan.dirs.some((dir) => !dir.exists) ||
    plan.files.some((file) => file.writable && (file.state === 'absent' || file.state === 'differs')) ||
    (plan.keysFile !== null && !plan.keysFile.exists)
  );
}

export type ClosableConsent = Consent & { close?: () => void };

const alwaysYes: ClosableConsent = { apply: async () => true, replace: async () => true };

/** y/N questions on the terminal; anything but y or yes is a no. */
export function promptConsent(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): ClosableConsent {
  const prompt = createInterface({ input, output });
  const ask = async (question: string) => /^y(es)?$/i.test((await prompt.question(`${question} [y/N] `)).trim());
  return {
    apply: () => ask('Write the folders and files marked + ?'),
    replace: (path) => ask(`${path} exists and differs. Replace it?`),
    close: () => prompt.close(),
  };
}
