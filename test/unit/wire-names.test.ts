import { describe, expect, it } from 'vitest';
import { decodeFileName } from '../../source/project/file-names.js';
import type { UploadEntry } from '../../source/remote/transport.js';
import { planWireNames } from '../../source/remote/wire-names.js';

const e9 = '\udce9';
const fields = (input: Buffer) =>
  input
    .toString('latin1')
    .split('\0')
    .slice(0, -1)
    .map((field) => decodeFileName(Buffer.from(field, 'latin1')));

describe('planWireNames', () => {
  it('leaves a tree of UTF-8 names exactly as it is, with nothing to finish', () => {
    const entries: UploadEntry[] = [
      { kind: 'dir', path: 'ünï', mode: 0o755 },
      { kind: 'file', path: 'ünï/new\nline', mode: 0o644, size: 1, localPath: '/src/x' },
      { kind: 'symlink', path: 'link', target: 'ünï' },
    ];
    const plan = planWireNames('/r', entries);
    expect(plan.entries).toBe(entries);
    expect(plan.finish).toEqual([]);
  });

  it('sends stand-in names over SFTP and renames deepest first, each under its parent stand-in', () => {
    const plan = planWireNames('/r', [
      { kind: 'dir', path: `d${e9}`, mode: 0o555 },
      { kind: 'dir', path: `d${e9}/sub`, mode: 0o750 },
      { kind: 'file', path: `d${e9}/sub/f${e9}`, mode: 0o644, size: 1, localPath: '/src/x' },
      { kind: 'link', path: `d${e9}/same`, mode: 0o644, size: 1, from: `/old/d${e9}/same` },
    ]);
    const sentPaths = plan.entries.map((entry) => entry.path);
    expect(sentPaths.every((path) => !/[\uDC80-\uDCFF]/u.test(path))).toBe(true);
    const [dirStandIn] = sentPaths;
    expect(dirStandIn).toMatch(/^\.mcp-deploy-name-[0-9a-f]{24}$/);
    // The two folders get their modes after the renames; SFTP leaves them owner-writable.
    expect(plan.entries.filter((entry) => entry.kind === 'dir').map((entry) => entry.mode)).toEqual([0o700, 0o700]);
    expect([...plan.modesSetLater].sort()).toEqual([dirStandIn, `${dirStandIn}/sub`]);

    const byWhat = new Map(plan.finish.map((step) => [step.argv.slice(step.argv.indexOf('-n') + 2).join(' '), fields(step.input)]));
    expect(byWhat.get('ln --')).toEqual([`/old/d${e9}/same`, `/r/${dirStandIn}/same`]);
    const fileStandIn = (plan.entries[2] as { path: string }).path.split('/').at(-1);
    expect(byWhat.get('mv -T --')).toEqual([
      `/r/${dirStandIn}/sub/${fileStandIn}`,
      `/r/${dirStandIn}/sub/f${e9}`,
      `/r/${dirStandIn}`,
      `/r/d${e9}`,
    ]);
    expect(byWhat.get('chmod --')).toEqual(['750', `/r/d${e9}/sub`, '555', `/r/d${e9}`]);
    // Renames come before modes: a read-only folder must still have its children renamed.
    const order = plan.finish.map((step) => step.argv.at(-2));
    expect(order.indexOf('-T')).toBeLessThan(order.indexOf('chmod'));
  });
});
