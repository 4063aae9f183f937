import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkHostKey,
  entryMatches,
  fingerprint,
  keyTypeOf,
  knownHostsName,
  knownKeyTypes,
  parseKnownHosts,
} from '../../source/remote/known-hosts.js';

/** A syntactically valid public key blob of the given type with random key bytes. */
function blob(type: string, bytes = randomBytes(32)): Buffer {
  const name = Buffer.from(type);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(name.length);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([header, name, length, bytes]);
}

const ed = blob('ssh-ed25519');
const edOther = blob('ssh-ed25519');
const rsa = blob('ssh-rsa', randomBytes(64));
const line = (hosts: string, key: Buffer, marker = '') =>
  `${marker ? `${marker} ` : ''}${hosts} ${keyTypeOf(key)} ${key.toString('base64')} comment here`;

function hashed(name: string, salt = randomBytes(20)): string {
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

describe('knownHostsName', () => {
  it('uses the bare host on port 22 and [host]:port elsewhere, lower-cased', () => {
    expect(knownHostsName('Example.ORG', 22)).toBe('example.org');
    expect(knownHostsName('example.org', 2222)).toBe('[example.org]:2222');
    expect(knownHostsName('::1', 2222)).toBe('[::1]:2222');
  });
});

describe('fingerprint', () => {
  it('is OpenSSH SHA256 without padding', () => {
    // Known pair, from `ssh-keygen -l -E sha256` on this public key.
    const key = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl', 'base64');
    expect(fingerprint(key)).toBe('SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU');
    expect(fingerprint(ed)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

describe('parseKnownHosts', () => {
  it('skips comments, blank lines and broken lines, keeping line numbers', () => {
    const entries = parseKnownHosts(
      [
        '# a comment',
        '',
        '   ',
        line('good.example', ed),
        'only-two fields',
        'host ssh-ed25519 !!!notbase64',
        `host ssh-rsa ${ed.toString('base64')}`,
        `@unknown-marker ${line('x', ed)}`,
        line('second.example', rsa),
      ].join('\n'),
    );
    expect(entries.map((entry) => [entry.line, entry.keyType])).toEqual([
      [4, 'ssh-ed25519'],
      [9, 'ssh-rsa'],
    ]);
  });

  it('reads markers', () => {
    const entries = parseKnownHosts([line('*', ed, '@revoked'), line('*.example', rsa, '@cert-authority')].join('\n'));
    expect(entries.map((entry) => entry.marker)).toEqual(['revoked', 'cert-authority']);
  });

  it('accepts tabs and CRLF line ends', () => {
    const entries = parseKnownHosts(`host\tssh-ed25519\t${ed.toString('base64')}\r\n`);
    expect(entries).toHaveLength(1);
    expect(entries[0]?.key.equals(ed)).toBe(true);
  });
});

describe('entryMatches', () => {
  const match = (hosts: string, name: string) => {
    const [entry] = parseKnownHosts(line(hosts, ed));
    if (entry === undefined) throw new Error(`unparsed: ${hosts}`);
    return entryMatches(entry, name);
  };

  it('matches plain names case-insensitively and [host]:port exactly', () => {
    expect(match('Example.org', 'example.org')).toBe(true);
    expect(match('example.org', '[example.org]:2222')).toBe(false);
    expect(match('[example.org]:2222', '[example.org]:2222')).toBe(true);
    expect(match('[example.org]:2222', '[example.org]:2223')).toBe(false);
  });

  it('matches any name of a comma list', () => {
    expect(match('a.example,b.example,10.0.0.1', 'b.example')).toBe(true);
    expect(match('a.example,b.example,10.0.0.1', '10.0.0.1')).toBe(true);
    expect(match('a.example,b.example', 'c.example')).toBe(false);
  });

  it('supports * and ? wildcards and ! negation', () => {
    expect(match('*.example', 'deep.host.example')).toBe(true);
    expect(match('host?.example', 'host1.example')).toBe(true);
    expect(match('host?.example', 'host10.example')).toBe(false);
    expect(match('*.example,!bad.example', 'bad.example')).toBe(false);
    expect(match('*.example,!bad.example', 'good.example')).toBe(true);
    expect(match('[10.0.0.?]:*', '[10.0.0.7]:2222')).toBe(true);
    // Regex metacharacters in names are literal.
    expect(match('a+b.example', 'aab.example')).toBe(false);
    expect(match('a.b', 'axb')).toBe(false);
  });

  it('matches hashed names, including [host]:port', () => {
    expect(match(hashed('example.org'), 'example.org')).toBe(true);
    expect(match(hashed('example.org'), 'example.com')).toBe(false);
    expect(match(hashed('[example.org]:2222'), '[example.org]:2222')).toBe(true);
    expect(match(hashed('[example.org]:2222'), 'example.org')).toBe(false);
  });

  it('skips hashed fields it cannot read', () => {
    expect(parseKnownHosts(line('|1|short|hash', ed))).toEqual([]);
    expect(parseKnownHosts(line('|2|abc|def', ed))).toEqual([]);
  });
});

describe('checkHostKey', () => {
  const check = (lines: string[], host: string, port: number, key: Buffer) =>
    checkHostKey(parseKnownHosts(lines.join('\n')), host, port, key);

  it('knows a host listed with the presented key', () => {
    expect(check([line('[h]:2222', ed)], 'h', 2222, ed)).toEqual({ status: 'known' });
    expect(check([line(hashed('h'), ed)], 'h', 22, ed)).toEqual({ status: 'known' });
  });

  it('reports an unlisted host as unknown', () => {
    expect(check([], 'h', 22, ed)).toEqual({ status: 'unknown', otherKeyTypes: [] });
    expect(check([line('other', ed)], 'h', 22, ed)).toEqual({ status: 'unknown', otherKeyTypes: [] });
  });

  it('reports a host listed only with other key types as unknown, naming those types', () => {
    expect(check([line('h', rsa)], 'h', 22, ed)).toEqual({ status: 'unknown', otherKeyTypes: ['ssh-rsa'] });
  });

  it('reports a different key of the same type as changed, with the known fingerprints and lines', () => {
    expect(check(['# header', line('h', edOther)], 'h', 22, ed)).toEqual({
      status: 'changed',
      knownFingerprints: [fingerprint(edOther)],
      lines: [2],
    });
  });

  it('accepts when any of several listed keys matches', () => {
    expect(check([line('h', edOther), line('h', ed)], 'h', 22, ed)).toEqual({ status: 'known' });
  });

  it('refuses a revoked key even when it is also listed', () => {
    expect(check([line('*', ed, '@revoked'), line('h', ed)], 'h', 22, ed)).toEqual({ status: 'revoked' });
    expect(check([line('*', edOther, '@revoked'), line('h', ed)], 'h', 22, ed)).toEqual({ status: 'known' });
  });

  it('neither trusts nor refuses because of @cert-authority lines', () => {
    expect(check([line('*', ed, '@cert-authority')], 'h', 22, ed)).toEqual({ status: 'unknown', otherKeyTypes: [] });
    expect(check([line('*', edOther, '@cert-authority'), line('h', ed)], 'h', 22, ed)).toEqual({ status: 'known' });
  });
});

describe('knownKeyTypes', () => {
  it('lists the unmarked key types of a host, in file order, once each', () => {
    const entries = parseKnownHosts(
      [line('h', rsa), line('*', edOther, '@revoked'), line('h,other', ed), line('h', blob('ssh-rsa'))].join('\n'),
    );
    expect(knownKeyTypes(entries, 'h', 22)).toEqual(['ssh-rsa', 'ssh-ed25519']);
    expect(knownKeyTypes(entries, 'nobody', 22)).toEqual([]);
  });
});

describe('keyTypeOf', () => {
  it('reads the type from a blob and rejects garbage', () => {
    expect(keyTypeOf(ed)).toBe('ssh-ed25519');
    expect(keyTypeOf(Buffer.from([0, 0]))).toBeUndefined();
    expect(keyTypeOf(Buffer.from([0, 0, 1, 0, 65]))).toBeUndefined();
  });
});
