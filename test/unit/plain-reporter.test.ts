import { describe, expect, it } from 'vitest';
import { deploySteps } from '../../source/engine/declared-steps.js';
import type { EngineEvent } from '../../source/run/events.js';
import { createPlainReporter } from '../../source/report/plain-reporter.js';

const failedRun: EngineEvent[] = [
  { kind: 'run:start', operation: 'deploy', target: 'production', at: 0, steps: deploySteps({}, { validate: false }) },
  { kind: 'step:start', step: 'upload', title: 'Upload release r1', at: 0 },
  { kind: 'step:done', step: 'upload', ms: 1200, detail: '1 file(s) sent' },
  { kind: 'step:start', step: 'health', title: 'Health-check green', at: 0 },
  {
    kind: 'step:failed',
    step: 'health',
    ms: 3000,
    message: 'Not healthy after 3 s\n100% sure',
    hint: 'Raise health.timeoutSeconds',
    details: ['  last log line'],
  },
  { kind: 'rollback', phase: 'done', reason: 'health failed', serving: 'release r0 on blue (port 5002)' },
  { kind: 'run:end', ok: false, ms: 5000 },
];

function render(events: readonly EngineEvent[], options: { github?: boolean; color?: boolean } = {}): string {
  let text = '';
  const reporter = createPlainReporter({
    write: (chunk) => (text += chunk),
    color: options.color ?? false,
    github: options.github ?? false,
  });
  for (const event of events) reporter(event);
  return text;
}

describe('the plain reporter (CI, pipes, --yes)', () => {
  it('prints one line per step with its duration, and a failure with its details and hint', () => {
    const text = render(failedRun);
    expect(text).toContain('✔ Upload release r1 — 1 file(s) sent (1.2 s)');
    expect(text).toContain('✖ Health-check green (3.0 s)');
    expect(text).toContain('    last log line');
    expect(text).toContain('→ Raise health.timeoutSeconds');
    expect(text).toContain('↺ Rolled back. Serving: release r0 on blue (port 5002)');
    expect(text).toContain('Failed after 5.0 s.');
  });

  it('writes no ANSI codes without colour', () => {
    expect(render(failedRun)).not.toMatch(/\u001b\[/);
    expect(render(failedRun, { color: true })).toMatch(/\u001b\[/);
  });

  it("uses GitHub's group and error annotations under GitHub Actions, escaping newlines", () => {
    const text = render(failedRun, { github: true });
    expect(text.startsWith('::group::mcp-deploy deploy → production\n')).toBe(true);
    expect(text).toContain('::error title=Health-check green::Not healthy after 3 s%0A100%25 sure');
    expect(text.trimEnd().endsWith('::endgroup::')).toBe(true);
  });

  it("on a fleet: each host's lines prefixed with its host (every line of a failure too), then a line per host with what serves", () => {
    const tagged = (host: string, event: EngineEvent): EngineEvent => ({ kind: 'host', host, event });
    const text = render([
      { kind: 'run:start', operation: 'deploy', target: 'prod', at: 0, steps: [] },
      {
        kind: 'fleet:start',
        operation: 'deploy',
        target: 'prod',
        runId: 'fleet-1',
        hosts: ['web1', 'web2'],
        batches: [['web1'], ['web2']],
      },
      ...failedRun.map((event) => tagged('web2', event)),
      {
        kind: 'fleet:end',
        ok: false,
        outcome: 'rolled-back',
        release: 'r1',
        hosts: [
          {
            host: 'web1',
            ok: false,
            switched: true,
            rolledBack: true,
            serving: 'release r0 on green (port 5003)',
            previous: 'r0',
            exitCode: 1,
          },
          {
            host: 'web2',
            ok: false,
            switched: false,
            rolledBack: true,
            serving: 'release r0 on blue (port 5002)',
            previous: 'r0',
            error: { step: 'health', message: 'Not healthy after 3 s' },
            exitCode: 1,
          },
        ],
      },
      { kind: 'run:end', ok: false, ms: 9000 },
    ]);
    expect(text).toContain('  2 host(s), fleet run fleet-1; batches: web1 | web2');
    expect(text).toContain('[web2] ✔ Upload release r1 — 1 file(s) sent (1.2 s)');
    expect(text).toContain('[web2]     100% sure');
    expect(text).toContain('[web2]     → Raise health.timeoutSeconds');
    expect(text).toContain('✖ web1: back on release r0 on green (port 5003) (it had switched to r1)');
    expect(text).toContain('✖ web2: release r0 on blue (port 5002); the new release failed here and was undone (health)');
    expect(text).toMatch(/Fleet: a host failed; the hosts that had switched went back/);
    expect(
      text
        .split('\n')
        .filter((line) => line.length > 0 && !line.startsWith('[') && !/^(mcp-deploy| {2}2 host|✖ web|Fleet|Failed)/.test(line)),
    ).toEqual([]);
  });
});
