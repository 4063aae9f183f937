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
});
