import { describe, expect, it } from 'vitest';
import { DeployError } from '../../source/errors.js';
import { assertSafeReleaseId, hostLayout, idOfPartialDirName, makeReleaseId, partialDirName } from '../../source/host/layout.js';

describe('hostLayout', () => {
  const layout = hostLayout('/srv/mcp/');

  it('puts every path under the deploy root, without a doubled slash', () => {
    expect(layout.root).toBe('/srv/mcp');
    expect(layout.releasesDir).toBe('/srv/mcp/releases');
    expect(layout.releaseDir('20261124T101500Z-abc1234')).toBe('/srv/mcp/releases/20261124T101500Z-abc1234');
    expect(layout.partialDir('20261124T101500Z')).toBe('/srv/mcp/releases/.20261124T101500Z.partial');
    expect(layout.metaDir('r1')).toBe('/srv/mcp/releases/r1/.mcp-deploy');
    expect(layout.releaseJson('r1')).toBe('/srv/mcp/releases/r1/.mcp-deploy/release.json');
    expect(layout.manifestJson('r1')).toBe('/srv/mcp/releases/r1/.mcp-deploy/manifest.json');
    expect(layout.toolsJson('r1')).toBe('/srv/mcp/releases/r1/.mcp-deploy/tools.json');
    expect(layout.failedJson('r1')).toBe('/srv/mcp/releases/r1/.mcp-deploy/failed.json');
    expect(layout.current).toBe('/srv/mcp/current');
    expect(layout.envFile).toBe('/srv/mcp/shared/.env');
    expect(layout.venvDir('ab'.repeat(32))).toBe(`/srv/mcp/shared/venvs/${'ab'.repeat(32)}`);
    expect(layout.logFile('r1')).toBe('/srv/mcp/shared/logs/r1.log');
    expect(layout.pidFile('green')).toBe('/srv/mcp/run/green.pid');
    expect(layout.stateFile).toBe('/srv/mcp/state.json');
    expect(layout.lockDir).toBe('/srv/mcp/deploy.lock');
    expect(layout.lockInfo).toBe('/srv/mcp/deploy.lock/info.json');
    expect(layout.auditLog).toBe('/srv/mcp/audit.log');
    expect(layout.nginxUpstreamFile).toBe('/srv/mcp/nginx-upstream.conf');
  });

  it('refuses an unsafe id in every path built from one', () => {
    expect(() => layout.releaseDir('../etc')).toThrow(DeployError);
    expect(() => layout.partialDir('a/b')).toThrow(DeployError);
    expect(() => layout.logFile('..')).toThrow(DeployError);
    expect(() => layout.venvDir('../../x')).toThrow(DeployError);
    expect(() => layout.failedJson('.hidden')).toThrow(DeployError);
  });

  it('refuses a colour that is not one, even past the type system', () => {
    expect(() => layout.pidFile('red' as 'blue')).toThrow(/not a colour/);
  });

  it('refuses an empty root', () => {
    expect(() => hostLayout('')).toThrow(DeployError);
  });
});

describe('assertSafeReleaseId', () => {
  const refused = [
    '../x',
    'a/b',
    '.hidden',
    '..',
    '.',
    '',
    'ré1ease',
    'a\u0000b',
    'a b',
    'a\nb',
    '-rf',
    'a..b',
    '/abs',
    'x'.repeat(129),
    '🚀',
  ];

  it.each(refused.map((id) => [JSON.stringify(id), id]))('refuses %s as a usage error', (_label, id) => {
    let caught: unknown;
    try {
      assertSafeReleaseId(id);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DeployError);
    expect((caught as DeployError).kind).toBe('usage');
    expect((caught as DeployError).exitCode).toBe(2);
  });

  it('names the refused value and what was expected', () => {
    expect(() => assertSafeReleaseId('../x', 'release name')).toThrow('Not a valid release name: "../x".');
  });

  it.each(['20261124T101500Z-abc1234', '20261124T101500Z', 'v1.2.3', 'old_release', 'A'])('accepts %s', (id) => {
    expect(assertSafeReleaseId(id)).toBe(id);
  });
});

describe('release ids and partial names', () => {
  it('makes ids from the host stamp and a short sha', () => {
    expect(makeReleaseId('20261124T101500Z', 'ABCDEF0123456789abcdef0123456789abcdef01')).toBe('20261124T101500Z-abcdef0');
    expect(makeReleaseId('20261124T101500Z', null)).toBe('20261124T101500Z');
    expect(() => makeReleaseId('2026-11-24', null)).toThrow();
    expect(() => makeReleaseId('20261124T101500Z', 'not;hex')).toThrow();
  });

  it('round-trips partial dir names and rejects others', () => {
    expect(partialDirName('r1')).toBe('.r1.partial');
    expect(idOfPartialDirName('.r1.partial')).toBe('r1');
    expect(idOfPartialDirName('.r1.removing')).toBeNull();
    expect(idOfPartialDirName('...partial')).toBeNull();
    expect(idOfPartialDirName('r1.partial')).toBeNull();
  });
});
