import type { ChalkInstance } from 'chalk';
import { fleetHostsFor } from '../fleet-fan-out.js';
import { onEveryHost } from './fleet-commands.js';
import { runDoctor, type DoctorCheck } from '../../ops/doctor.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { createRunContext } from '../run-context.js';

/** `mcp-deploy doctor [--target NAME] [--json]`: exit 0 when every check passes, 1 otherwise. */
export async function doctorCommand(options: GlobalOptions, output: Output): Promise<number> {
  const hosts = fleetHostsFor(options);
  if (hosts !== null) return onEveryHost(hosts, options, output, 'doctor', doctorCommand);
  const context = createRunContext({ ...options, yes: true }, output, { plain: true });
  try {
    const checks = await runDoctor({ config: context.config, target: context.target, connect: context.connect });
    const ok = checks.every((check) => check.ok);
    if (output.json) output.document({ target: context.target.name, ok, checks, exitCode: ok ? 0 : 1 });
    else output.line(formatDoctor(context.target.name, checks, output.paint));
    return ok ? 0 : 1;
  } finally {
    context.dispose();
  }
}

/** One line per check, and under a failed one the line that says what to do. */
export function formatDoctor(target: string, checks: readonly DoctorCheck[], paint: ChalkInstance): string {
  const width = Math.max(...checks.map((check) => check.check.length));
  const lines = [paint.bold(`mcp-deploy doctor: target ${target}`)];
  for (const check of checks) {
    const mark = check.warning ? paint.yellow('!') : check.ok ? paint.green('✔') : paint.red('✖');
    const detail = check.warning ? paint.yellow(check.detail) : check.ok ? check.detail : paint.red(check.detail);
    lines.push(`${mark} ${check.check.padEnd(width)}  ${detail}`);
    if (check.fix !== null) lines.push(`  ${' '.repeat(width)}  ${paint.cyan(`→ ${check.fix}`)}`);
  }
  const failed = checks.filter((check) => !check.ok).length;
  lines.push(
    failed === 0
      ? paint.green('Ready for a first deploy.')
      : paint.red(`${failed} check(s) failed; fix them and run mcp-deploy doctor again.`),
  );
  return lines.join('\n');
}
