import { describe, expect, it } from 'vitest';
import { createOutput } from '../../source/cli/output.js';
import { DeployError } from '../../source/errors.js';
import { createScrubber } from '../../source/run/scrub.js';
import { terminalSafe } from '../../source/run/terminal-text.js';

/** The plain path's one writer: colour decided once, secrets masked, host text made safe for a terminal. */

function capture(options: { json?: boolean; color?: boolean } = {}, environment: Record<string, string> = {}, tty = false) {
  const out: string[] = [];
  const err: string[] = [];
  const stream = (into: string[]) => ({ isTTY: tty, write: (text: string) => into.push(text) > 0 });
  const output = createOutput(options, { stdout: stream(out), stderr: stream(err) }, environment);
  return { output, out, err };
}

describe('terminalSafe', () => {
  it('keeps text, tabs, newlines and colour codes; drops every other escape sequence and control character', () => {
    const hostile = 'a\u001b[2J\u001b[Hb\u001b]0;owned\u0007c\u001b[31mred\u001b[0m\rd\u0008e\u009b2Jf\u001bPdcs\u001b\\g\tnext\nline';
    expect(terminalSafe(hostile)).toBe('abc\u001b[31mred\u001b[0mdef' + 'g\tnext\nline');
  });

  it('leaves ordinary text untouched', () => {
    expect(terminalSafe('release 20261124T101500Z-abc1234 on blue (5002) — ✔')).toBe('release 20261124T101500Z-abc1234 on blue (5002) — ✔');
  });
});

describe('the output module', () => {
  it('masks the secrets it was given in human text, data lines and JSON documents', () => {
    const { output, out } = capture();
    output.mask(createScrubber({ urls: [], values: ['s3cr3t-token-value'] }));
    output.line('the server said: token=s3cr3t-token-value');
    output.data('log: s3cr3t-token-value');
    output.document({ nested: { line: 'Bearer s3cr3t-token-value' } });
    const all = out.join('');
    expect(all).not.toContain('s3cr3t-token-value');
    expect(all).toContain('token=***');
  });

  it('keeps human text off stdout when stdout carries JSON', () => {
    const { output, out, err } = capture({ json: true });
    output.line('progress');
    output.document({ ok: true });
    expect(err.join('')).toBe('progress\n');
    expect(JSON.parse(out.join(''))).toEqual({ ok: true });
  });

  it('decides on colour once: never with --no-color or NO_COLOR, not without a terminal, not in CI', () => {
    expect(capture({ color: false }, {}, true).output.color).toBe(false);
    expect(capture({}, { NO_COLOR: '1' }, true).output.color).toBe(false);
    expect(capture({}, {}, false).output.color).toBe(false);
    expect(capture({}, { CI: 'true' }, true).output.color).toBe(false);
    expect(capture({}, { CI: 'false' }, true).output.color).toBe(true);
    expect(capture({}, { FORCE_COLOR: '1' }, false).output.color).toBe(true);
  });

  it('fails as a JSON document with --json, as a message and hint otherwise, and a bug as a bug', () => {
    const json = capture({ json: true });
    expect(json.output.fail(new DeployError('locked', 'held by alice', { hint: 'wait' }))).toBe(4);
    expect(JSON.parse(json.out.join(''))).toEqual({
      ok: false,
      exitCode: 4,
      error: { kind: 'locked', message: 'held by alice', hint: 'wait' },
    });
    const plain = capture();
    expect(plain.output.fail(new TypeError('x is undefined'))).toBe(70);
    expect(plain.err.join('')).toContain('mcp-deploy hit an internal error (a bug, not your setup): x is undefined');
    expect(plain.err.join('')).toContain('Please report it');
  });
});
