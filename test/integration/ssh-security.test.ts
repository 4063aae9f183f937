import { execFileSync, spawnSync } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeployError } from '../../source/errors.js';
import { connectSsh, type SshConnectOptions } from '../../source/remote/connect.js';
import { connectOptionsFor, freePort, sshdSkipReason, startSshd, type SshdHandle } from '../harness/index.js';

/**
 * What connecting refuses, and how it says so: every refusal is a DeployError of the right kind
 * whose message tells the operator what to do. Runs against a real OpenSSH sshd.
 */

const sshdSkip = await sshdSkipReason();
if (sshdSkip) console.warn(`SKIPPING SSH security tests: ${sshdSkip}`);

describe.skipIf(sshdSkip !== undefined)(`SSH connection security${sshdSkip ? ` (skipped: ${sshdSkip})` : ''}`, () => {
  let sshd: SshdHandle;
  let dir: string;
  let otherKey: { privateFile: string; publicKey: string; fingerprint: string };

  beforeAll(async () => {
    sshd = await startSshd();
    dir = await mkdtemp(join(tmpdir(), 'mcpd-ssh-security-'));
    otherKey = makeKey('other_host_key');
  });

  afterAll(async () => {
    await sshd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function makeKey(name: string, passphrase = ''): { privateFile: string; publicKey: string; fingerprint: string } {
    const privateFile = join(dir, name);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', name, '-f', privateFile]);
    const [type, base64] = execFileSync('cat', [`${privateFile}.pub`], { encoding: 'utf8' })
      .trim()
      .split(' ');
    const fingerprint =
      /SHA256:\S+/.exec(execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${privateFile}.pub`], { encoding: 'utf8' }))?.[0] ?? '';
    return { privateFile, publicKey: `${type} ${base64}`, fingerprint };
  }

  async function knownHosts(name: string, text: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  }

  function options(overrides: Partial<SshConnectOptions>): SshConnectOptions {
    return { ...connectOptionsFor(sshd), ...overrides };
  }

  async function refusal(overrides: Partial<SshConnectOptions>): Promise<DeployError> {
    const outcome = await connectSsh(options(overrides)).then(
      async (transport) => {
        await transport.close();
        return undefined;
      },
      (error: unknown) => error,
    );
    expect(outcome).toBeInstanceOf(DeployError);
    return outcome as DeployError;
  }

  async function connects(overrides: Partial<SshConnectOptions>): Promise<void> {
    const transport = await connectSsh(options(overrides));
    try {
      expect((await transport.run(['id', '-un'])).stdout.trim()).toBe(sshd.user);
    } finally {
      await transport.close();
    }
  }

  describe('host keys', () => {
    it('connects to a host listed in known_hosts', async () => {
      await connects({});
    });

    it('refuses an unknown host, showing its fingerprint and how to trust it', async () => {
      const file = join(dir, 'does-not-exist');
      const error = await refusal({ knownHostsFile: file });
      expect(error.kind).toBe('host-key');
      expect(error.exitCode).toBe(3);
      expect(error.message).toContain(`The host key of 127.0.0.1:${sshd.port} is not known`);
      expect(error.message).toContain(`Its fingerprint is ${sshd.hostKeyFingerprint}`);
      expect(error.message).toContain(`ssh-keyscan -p ${sshd.port} 127.0.0.1 >> ${file}`);
      expect(error.message).toContain(`--accept-host-key ${sshd.hostKeyFingerprint}`);
    });

    it('connects to an unknown host whose fingerprint the operator accepted', async () => {
      await connects({ knownHostsFile: join(dir, 'does-not-exist'), acceptHostKey: sshd.hostKeyFingerprint });
    });

    it('still refuses an unknown host when the accepted fingerprint is a different one', async () => {
      const error = await refusal({ knownHostsFile: join(dir, 'does-not-exist'), acceptHostKey: otherKey.fingerprint });
      expect(error.kind).toBe('host-key');
      expect(error.message).toContain(sshd.hostKeyFingerprint);
    });

    it('refuses a host whose key changed, showing both fingerprints, even with --accept-host-key', async () => {
      const file = await knownHosts('changed', `[127.0.0.1]:${sshd.port} ${otherKey.publicKey}\n`);
      for (const acceptHostKey of [undefined, sshd.hostKeyFingerprint]) {
        const error = await refusal({ knownHostsFile: file, ...(acceptHostKey === undefined ? {} : { acceptHostKey }) });
        expect(error.kind).toBe('host-key');
        expect(error.message).toContain('CHANGED');
        expect(error.message).toContain(otherKey.fingerprint);
        expect(error.message).toContain(sshd.hostKeyFingerprint);
        expect(error.message).toContain(`ssh-keygen -R '[127.0.0.1]:${sshd.port}'`);
      }
    });

    it('refuses a key marked @revoked', async () => {
      const file = await knownHosts('revoked', `@revoked * ${sshd.hostPublicKey}\n[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n`);
      const error = await refusal({ knownHostsFile: file });
      expect(error.kind).toBe('host-key');
      expect(error.message).toContain('@revoked');
      expect(error.message).toContain(sshd.hostKeyFingerprint);
    });

    it('treats the same address on another port as a different host', async () => {
      const file = await knownHosts('port-22-only', `127.0.0.1 ${sshd.hostPublicKey}\n`);
      const error = await refusal({ knownHostsFile: file });
      expect(error.kind).toBe('host-key');
      expect(error.message).toContain('is not known');
    });

    it('finds the host in hashed entries (ssh-keygen -H)', async () => {
      const file = await knownHosts('hashed', await readFile(sshd.knownHostsFile, 'utf8'));
      execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
      const text = await readFile(file, 'utf8');
      expect(text.startsWith('|1|')).toBe(true);
      expect(text).not.toContain('127.0.0.1');
      await connects({ knownHostsFile: file });
    });

    it('finds the host in comma lists and wildcard patterns, after comments', async () => {
      const listed = await knownHosts('list', `# comment\n\nelsewhere.example,[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n`);
      await connects({ knownHostsFile: listed });
      const wildcard = await knownHosts('wildcard', `[127.0.0.?]:* ${sshd.hostPublicKey}\n`);
      await connects({ knownHostsFile: wildcard });
      const negated = await knownHosts('negated', `[127.0.0.?]:*,![127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n`);
      expect((await refusal({ knownHostsFile: negated })).kind).toBe('host-key');
    });
  });

  describe('authentication', () => {
    it('refuses a key the server does not know, naming the user and the key tried', async () => {
      const stranger = makeKey('stranger');
      const error = await refusal({ identityFile: stranger.privateFile });
      expect(error.kind).toBe('auth');
      expect(error.exitCode).toBe(3);
      expect(error.message).toContain(`Authentication as ${sshd.user} on 127.0.0.1:${sshd.port} failed`);
      expect(error.message).toContain(stranger.privateFile);
      expect(error.message).toContain(`ssh-copy-id -i ${stranger.privateFile}.pub -p ${sshd.port} ${sshd.user}@127.0.0.1`);
    });

    it('says so when the identity file does not exist', async () => {
      const missing = join(dir, 'no-such-key');
      const error = await refusal({ identityFile: missing });
      expect(error.kind).toBe('auth');
      expect(error.message).toContain(missing);
      expect(error.message).toContain('does not exist');
    });

    it('uses an encrypted key with its passphrase, and explains without one', async () => {
      const locked = makeKey('locked', 'correct horse');
      await appendFile(sshd.authorizedKeysFile, `${locked.publicKey}\n`);
      const error = await refusal({ identityFile: locked.privateFile });
      expect(error.kind).toBe('auth');
      expect(error.message).toContain('encrypted');
      expect(error.message).toContain(`ssh-add ${locked.privateFile}`);
      await connects({ identityFile: locked.privateFile, passphrase: 'correct horse' });
    });
  });

  describe('reaching the host', () => {
    it('reports a closed port as unreachable', async () => {
      const port = await freePort();
      const error = await refusal({ port });
      expect(error.kind).toBe('unreachable');
      expect(error.exitCode).toBe(3);
      expect(error.message).toBe(`Cannot reach 127.0.0.1:${port}: connection refused. Is sshd running and the port right?`);
    });

    it('reports a server that never speaks SSH as a timeout', async () => {
      const sockets = new Set<import('node:net').Socket>();
      const silent: Server = createServer((socket) => sockets.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const address = silent.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      try {
        const error = await refusal({ port, readyTimeoutMs: 500 });
        expect(error.kind).toBe('timeout');
        expect(error.message).toContain(`Timed out after 500 ms connecting to 127.0.0.1:${port}`);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      }
    });
  });
  it('asks a person about an unknown key, and on yes trusts it and records it in known_hosts', async () => {
    const file = await knownHosts('ask_yes', '');
    const asked: string[] = [];
    await connects({
      knownHostsFile: file,
      confirmUnknownHostKey: async (question) => {
        asked.push(question.fingerprint);
        return true;
      },
    });
    expect(asked).toEqual([sshd.hostKeyFingerprint]);
    expect(await readFile(file, 'utf8')).toContain(`[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}`);
    // Known now: the next connection does not ask again.
    await connects({
      knownHostsFile: file,
      confirmUnknownHostKey: async () => {
        throw new Error('must not ask');
      },
    });
  });

  it('refuses an unknown key when the person says no, and never asks about a changed key', async () => {
    const unknown = await knownHosts('ask_no', '');
    const error = await refusal({ knownHostsFile: unknown, confirmUnknownHostKey: async () => false });
    expect(error.kind).toBe('host-key');
    expect(error.message).toContain(sshd.hostKeyFingerprint);
    const changed = await knownHosts('changed_ask', `[127.0.0.1]:${sshd.port} ${otherKey.publicKey}\n`);
    let asked = false;
    const refused = await refusal({ knownHostsFile: changed, confirmUnknownHostKey: async () => (asked = true) });
    expect(asked).toBe(false);
    expect(refused.kind).toBe('host-key');
  });
});

describe.skipIf(sshdSkip !== undefined)(`host key signatures and fingerprints${sshdSkip ? ` (skipped: ${sshdSkip})` : ''}`, () => {
  let old: SshdHandle;
  beforeAll(async () => {
    // An sshd whose RSA host key is signed only with ssh-rsa (SHA-1), as before OpenSSH 8.8.
    old = await startSshd({ hostKey: 'rsa-sha1-only' });
  });
  afterAll(async () => old?.stop());

  const toOld = (overrides: Partial<SshConnectOptions> = {}): SshConnectOptions => ({
    host: old.host,
    port: old.port,
    user: old.user,
    identityFile: old.identityFile,
    knownHostsFile: old.knownHostsFile,
    agent: false,
    ...overrides,
  });

  it('refuses a host that signs its key only with ssh-rsa (SHA-1), naming the key that allows it', async () => {
    const error = await connectSsh(toOld()).then(
      async (transport) => {
        await transport.close();
        return undefined;
      },
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(DeployError);
    expect((error as DeployError).kind, (error as DeployError).message).toBe('host-key');
    expect((error as DeployError).message).toBe(
      `The SSH server at 127.0.0.1:${old.port} can sign its host key only with ssh-rsa (SHA-1), which mcp-deploy refuses, as OpenSSH does by default since 8.8.`,
    );
    expect((error as DeployError).hint).toContain('"allowSshRsaSha1": true');
  });

  it('connects to it when the target allows ssh-rsa, and still checks the key against known_hosts', async () => {
    const transport = await connectSsh(toOld({ allowSshRsaSha1: true }));
    try {
      expect((await transport.run(['id', '-un'])).stdout.trim()).toBe(old.user);
    } finally {
      await transport.close();
    }
    const unknown = await connectSsh(toOld({ allowSshRsaSha1: true, knownHostsFile: join(old.dir, 'nothing-here') })).catch(
      (caught: unknown) => caught,
    );
    expect((unknown as DeployError).kind).toBe('host-key');
    expect((unknown as DeployError).message).toContain(old.hostKeyFingerprint);
  });

  it('the binary: --accept-host-key with a malformed fingerprint says so and exits 2, before connecting', async () => {
    // Nobody listens on the target's port: a value checked only once connected would end in
    // "Cannot reach" (exit 3), so exit 2 proves it was refused before any connection.
    const closedPort = await freePort();
    const config = join(old.dir, 'malformed.mcpdeployrc.json');
    await writeFile(
      config,
      JSON.stringify({
        app: 'keys',
        source: old.dir,
        runtime: { type: 'python', entry: 'server.py' },
        targets: {
          here: {
            host: old.host,
            port: closedPort,
            user: old.user,
            identityFile: old.identityFile,
            path: '/srv/keys',
            publicUrl: 'http://127.0.0.1:1',
          },
        },
      }),
    );
    const bin = new URL('../../bin/mcp-deploy.js', import.meta.url).pathname;
    for (const [value, why] of [
      ['SHA256:not-a-fingerprint', 'expected SHA256: and 43 characters of base64'],
      ['MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48', 'that is an MD5 fingerprint'],
    ] as const) {
      const run = spawnSync(process.execPath, [bin, 'status', '--accept-host-key', value, '--config', config], {
        encoding: 'utf8',
        env: { ...process.env, CI: 'true', NO_COLOR: '1' },
      });
      expect(run.status, run.stderr).toBe(2);
      expect(run.stdout + run.stderr).toContain(`--accept-host-key ${JSON.stringify(value)} is malformed: ${why}`);
    }
  });
});
