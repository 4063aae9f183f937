import { describe, expect, it } from 'vitest';
import {
  expired,
  fingerprint,
  newSecret,
  parseKeysFile,
  parseOverlap,
  renderKeysFile,
  type ApiKey,
} from '../../source/engine/keys-file.js';
import { exposed, parseListeners } from '../../source/host/listening-sockets.js';
import { sshdJailEnabled } from '../../source/ops/doctor-edge.js';

describe('listening sockets from /proc/net/tcp(6)', () => {
  // Port 5002 is 138A; 5003 is 138B. Lines as the kernel writes them (state 0A = LISTEN, 01 = ESTABLISHED).
  const tcp = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:138A 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1002        0 1 1 0 100 0 0 10 0',
    '   1: 00000000:138B 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1002        0 2 1 0 100 0 0 10 0',
    '   2: 0100007F:138B 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1002        0 3 1 0 100 0 0 10 0',
    '   3: 0500000A:138B 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1002        0 4 1 0 100 0 0 10 0',
  ].join('\n');
  const tcp6 = [
    '  sl  local_address                         remote_address                        st',
    '   0: 00000000000000000000000000000000:138B 00000000000000000000000000000000:0000 0A 00000000:00000000',
    '   1: 00000000000000000000000001000000:138A 00000000000000000000000000000000:0000 0A 00000000:00000000',
    '   2: 0000000000000000FFFF00000100007F:138A 00000000000000000000000000000000:0000 0A 00000000:00000000',
  ].join('\n');

  it('reads loopback listeners as loopback, in both families', () => {
    const listeners = parseListeners(`${tcp}\n${tcp6}`, 5002);
    expect(listeners.map((listener) => listener.address)).toEqual(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
    expect(exposed(listeners)).toEqual([]);
  });

  it('flags 0.0.0.0, [::] and a specific address, and ignores sockets that are not listening', () => {
    const listeners = parseListeners(`${tcp}\n${tcp6}`, 5003);
    expect(exposed(listeners)).toEqual([
      { address: '0.0.0.0', scope: 'wildcard' },
      { address: '10.0.0.5', scope: 'address' },
      { address: '::', scope: 'wildcard' },
    ]);
  });
});

describe('the keys file', () => {
  const key = (id: string, kind: ApiKey['kind'], expires: number | null): ApiKey => ({
    id,
    secret: newSecret(),
    label: 'a "quoted" label',
    kind,
    created: '2026-12-01T10:00:00Z',
    expires,
  });

  it('reads back what it writes, and writes each key in the map once with only its fingerprint in the comments', () => {
    const keys = [key('key-aaaaaa', 'client', null), key('key-bbbbbb', 'probe', 1_900_000_000)];
    const text = renderKeysFile('ontology', 'mcp_ontology', keys);
    expect(parseKeysFile(text)).toEqual(keys);
    for (const one of keys) {
      expect(text.split(one.secret).length - 1).toBe(1);
      expect(text).toContain(fingerprint(one.secret));
    }
    expect(text).toContain('map $http_authorization $mcp_ontology_api_key {');
  });

  it('makes keys of lowercase hex only (nginx compares map strings without regard to case)', () => {
    expect(newSecret()).toMatch(/^mcpk_[0-9a-f]{32}$/);
  });

  it('refuses a map line it did not write, rather than dropping it at the next rewrite', () => {
    const text = renderKeysFile('ontology', 'mcp_ontology', [key('key-aaaaaa', 'client', null)]).replace(
      /\n}\n$/,
      '\n    "Bearer handmade" someone;\n}\n',
    );
    expect(() => parseKeysFile(text)).toThrow(/did not write/);
  });

  it('knows which keys are past their overlap, and reads overlaps', () => {
    const keys = [key('key-aaaaaa', 'client', 100), key('key-bbbbbb', 'client', 200), key('key-cccccc', 'client', null)];
    expect(expired(keys, 150).map((one) => one.id)).toEqual(['key-aaaaaa']);
    expect([parseOverlap('24h'), parseOverlap('90m'), parseOverlap('2d'), parseOverlap('30'), parseOverlap('soon')]).toEqual([
      86_400,
      5_400,
      172_800,
      30,
      null,
    ]);
  });
});

describe("fail2ban's sshd jail", () => {
  it('goes by the last enabled line of the [sshd] section, in read order', () => {
    expect(sshdJailEnabled(['[DEFAULT]', 'enabled = false', '[sshd]', 'port = ssh'])).toBe(false);
    expect(sshdJailEnabled(['[sshd]', 'enabled = false', '[sshd]', 'enabled = true'])).toBe(true);
    expect(sshdJailEnabled(['[sshd]', 'enabled = true', '[recidive]', 'enabled = false'])).toBe(true);
  });
});
