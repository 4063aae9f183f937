import { describe, expect, it } from 'vitest';
import { narrowToHost, rolloutOf } from '../../source/config/fleet.js';
import { parseConfig, selectTarget } from '../../source/config/load.js';
import { planBatches } from '../../source/engine/fleet/batches.js';
import { hostSteps } from '../../source/engine/fleet/host-steps.js';
import { deploySteps } from '../../source/engine/declared-steps.js';
import { DeployError } from '../../source/errors.js';

const file = '/projects/demo/.mcpdeployrc';

function fleet(target: Record<string, unknown> = {}): string {
  return JSON.stringify({
    app: 'ontology',
    runtime: { type: 'python', entry: 'server.py' },
    targets: {
      production: {
        user: 'deploy',
        path: '/srv/ontology',
        publicUrl: 'https://mcp.example.org',
        hosts: [
          { host: 'a.example.org' },
          { host: 'b.example.org', user: 'other', ports: { blue: 6002, green: 6003 } },
          { host: 'c.example.org', path: '/opt/mcp' },
        ],
        ...target,
      },
    },
  });
}

function refusal(text: string): string {
  try {
    parseConfig(text, file, {});
  } catch (error) {
    if (error instanceof DeployError) return error.message;
    throw error;
  }
  throw new Error('expected the config to be refused');
}

describe('config: a fleet', () => {
  it('makes each host a complete target: its own keys over the target’s, nginx paths following its own path', () => {
    const target = selectTarget(parseConfig(fleet(), file, {}), undefined);
    const hosts = target.fleet!;
    expect(hosts.map((host) => host.name)).toEqual(['a.example.org', 'b.example.org', 'c.example.org']);
    expect(hosts[0]!.target).toMatchObject({
      host: 'a.example.org',
      user: 'deploy',
      port: 22,
      path: '/srv/ontology',
      ports: { blue: 5002, green: 5003 },
    });
    expect(hosts[1]!.target).toMatchObject({ user: 'other', ports: { blue: 6002, green: 6003 } });
    expect(hosts[2]!.target.nginx.upstreamFile).toBe('/opt/mcp/nginx-upstream.conf');
    expect(hosts[2]!.target.nginx.upstream).toBe('mcp_ontology');
    expect(hosts[0]!.target.fleet).toBeUndefined();
    expect(rolloutOf(target)).toEqual({ batchSize: 1, pauseSeconds: 0, onFailure: 'rollback', maxConnections: 10 });
  });

  it('--host narrows to one host, with a did-you-mean for a typo; a one-host target accepts only its own host', () => {
    const target = selectTarget(parseConfig(fleet(), file, {}), undefined);
    expect(narrowToHost(target, 'b.example.org').user).toBe('other');
    expect(() => narrowToHost(target, 'b.example.og')).toThrow(/Did you mean "b.example.org"/);
    const single = { ...target, fleet: undefined, host: 'mcp.example.org' };
    expect(narrowToHost(single, 'mcp.example.org')).toBe(single);
    expect(() => narrowToHost(single, 'other')).toThrow(/is one host/);
  });

  it('names hosts that share an address by host:port, and refuses a name twice, an unknown canary, a bad batch size', () => {
    const shared = selectTarget(
      parseConfig(
        fleet({
          hosts: [
            { host: '127.0.0.1', port: 2201 },
            { host: '127.0.0.1', port: 2202 },
          ],
        }),
        file,
        {},
      ),
      undefined,
    );
    expect(shared.fleet!.map((host) => host.name)).toEqual(['127.0.0.1:2201', '127.0.0.1:2202']);
    expect(
      refusal(
        fleet({
          hosts: [
            { host: 'a', name: 'x' },
            { host: 'b', name: 'x' },
          ],
        }),
      ),
    ).toMatch(/hosts\[1\]: the name "x" is taken/);
    expect(refusal(fleet({ rollout: { canary: 'a.example.or' } }))).toMatch(
      /rollout.canary: no host "a.example.or"; did you mean "a.example.org"/,
    );
    expect(refusal(fleet({ rollout: { batchSize: '0%' } }))).toMatch(/batchSize/);
    expect(refusal(fleet({ rollout: { batchsize: 2 } }))).toMatch(/rollout.batchsize: unknown key; did you mean "batchSize"/);
  });
});

describe('fleet: batches', () => {
  const hosts = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7'];
  it('the canary alone first, then batches of batchSize in the config order', () => {
    expect(planBatches(hosts, { batchSize: 3 })).toEqual([['h1'], ['h2', 'h3', 'h4'], ['h5', 'h6', 'h7']]);
    expect(planBatches(hosts, { batchSize: 2, canary: 'h4' })).toEqual([['h4'], ['h1', 'h2'], ['h3', 'h5'], ['h6', 'h7']]);
    expect(planBatches(['only'], { batchSize: 5 })).toEqual([['only']]);
  });
  it('a percentage of the whole fleet, rounded up', () => {
    expect(planBatches(hosts, { batchSize: '25%' })).toEqual([['h1'], ['h2', 'h3'], ['h4', 'h5'], ['h6', 'h7']]);
    expect(planBatches(hosts, { batchSize: '100%' })).toEqual([['h1'], ['h2', 'h3', 'h4', 'h5', 'h6', 'h7']]);
  });
  it('a host’s steps leave out the local ones and check disk and ports after the lock', () => {
    const steps = hostSteps(deploySteps({}, { validate: true }), { preflight: true }).map((step) => step.id);
    expect(steps.slice(0, 3)).toEqual(['connect', 'preflight', 'upload']);
    expect(steps).not.toContain('prepare');
    expect(steps).not.toContain('validate.server');
  });
});
