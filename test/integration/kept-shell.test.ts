import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSsh } from '../../source/remote/connect.js';
import type { SshTransport } from '../../source/remote/ssh-transport.js';
import { connectOptionsFor, pidsWithCommandLine, sshdSkipReason, startSshd, waitFor, type SshdHandle } from '../harness/index.js';

/**
 * The kept shells (source/remote/ssh-shell.ts): commands written to a shell the connection keeps
 * open on the host, one round trip each instead of an exec channel's two and a session start.
 * The transport contract (transport-contract.test.ts) holds for them as for exec channels; these
 * cases are the ones only a shared shell could get wrong: what one command leaves behind, a
 * command that ends its own shell, output that looks like the shell's marks, input through the
 * request, and a command stopped halfway.
 */

const sshdSkip = await sshdSkipReason();

/** `$$` in a subshell is the shell's own pid: the loop's, the same for every command one kept shell runs (an exec channel's is new each time). */
const whichShell = { script: 'echo "$$"' };

for (const login of ['bash', 'sh'] as const) {
  describe.skipIf(sshdSkip !== undefined)(`kept shells (${login} login shell)`, () => {
    let sshd: SshdHandle;
    let transport: SshTransport;

    beforeAll(async () => {
      sshd = await startSshd({ login });
      transport = await connectSsh(connectOptionsFor(sshd));
      // The first command goes on an exec channel while the first shell opens.
      await transport.run(['true']);
      await waitFor('a kept shell', async () => (await sessionsOfOneShell(transport, 3)) !== null, { timeoutMs: 10_000 });
    });

    afterAll(async () => {
      await transport?.close();
      await sshd?.stop();
    });

    it('runs commands in a row in one shell', async () => {
      expect(await sessionsOfOneShell(transport, 5)).not.toBeNull();
    });

    it('keeps what a command changes to itself: directory, variables, options, traps, exit', async () => {
      const shell = await sessionsOfOneShell(transport, 2);
      const first = await transport.run({ script: "cd /; export LEAK=1; leak=2; set -e; trap 'echo trapped' EXIT; exit 3" });
      expect(first.code).toBe(3);
      expect(first.stdout).toBe('trapped\n');
      const after = await transport.run({
        script: 'printf "%s|%s|%s|%s|" "$PWD" "${LEAK-unset}" "${leak-unset}" "$-"; false; echo "went on $?"',
      });
      expect(after.code).toBe(0);
      const [pwd, exported, plain, options] = after.stdout.split('|');
      expect(pwd).toBe(sshd.homeDir);
      expect(exported).toBe('unset');
      expect(plain).toBe('unset');
      expect(options).not.toContain('e');
      expect(after.stdout).toContain('went on 1');
      expect(await sessionsOfOneShell(transport, 1)).toBe(shell);
    });

    it('survives a syntax error and a command that closes its outputs', async () => {
      const shell = await sessionsOfOneShell(transport, 1);
      const broken = await transport.run({ script: 'if then fi (' });
      expect(broken.code).not.toBe(0);
      expect(broken.stderr).not.toBe('');
      const closed = await transport.run({ script: 'echo before; exec >&- 2>&-; sleep 0' });
      expect(closed).toMatchObject({ code: 0, stdout: 'before\n', stderr: '' });
      expect(await sessionsOfOneShell(transport, 1)).toBe(shell);
    });

    it('passes output through exactly, even bytes that look like its marks, with or without a final newline', async () => {
      const odd = await transport.run({ script: "printf 'a\\037mcpd-\\037'; printf '\\037mcpd-x 0\\n' >&2; printf 'no newline'" });
      expect(odd.stdoutBytes.toString('latin1')).toBe('a\x1fmcpd-\x1fno newline');
      expect(odd.stderr).toBe('\x1fmcpd-x 0\n');
      const binary = await transport.run({ script: "printf '\\000\\001\\377'" });
      expect([...binary.stdoutBytes]).toEqual([0, 1, 255]);
    });

    it('gives small input to the command as its stdin through the shell, and large input through a channel of its own', async () => {
      const shell = await sessionsOfOneShell(transport, 1);
      const small = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const echoed = await transport.run({ script: 'cat; printf "|%s" "$$"' }, { input: small });
      expect(echoed.stdoutBytes.subarray(0, 256).equals(small)).toBe(true);
      expect(echoed.stdoutBytes.subarray(256).toString()).toBe(`|${shell}`);
      const large = randomBytes(100_000);
      const big = await transport.run({ script: 'cat; printf "|%s" "$$"' }, { input: large });
      expect(big.stdoutBytes.subarray(0, large.length).equals(large)).toBe(true);
      expect(big.stdoutBytes.subarray(large.length).toString()).not.toBe(`|${shell}`);
    });

    it('never puts input on a command line, where other users of the host could read it', async () => {
      const secret = `secret-${randomBytes(8).toString('hex')}`;
      const marker = `9.${randomBytes(3).readUIntBE(0, 3)}`;
      const running = transport.run({ script: `read -r line; sleep ${marker}; printf '%s' "$line"` }, { input: `${secret}\n` });
      await waitFor('the command to start', () => pidsWithCommandLine(`sleep ${marker}`).length > 0, { timeoutMs: 5_000 });
      expect(pidsWithCommandLine(secret)).toEqual([]);
      const [pid] = pidsWithCommandLine(`sleep ${marker}`);
      process.kill(pid!, 'SIGTERM');
      const result = await running;
      expect(result.stdout).toBe(secret);
    });

    it('stops a command that runs out of time, host-side process included, and the next command runs', async () => {
      const marker = `7.${randomBytes(3).readUIntBE(0, 3)}`;
      await sessionsOfOneShell(transport, 1);
      const error = await transport.run(['sleep', marker], { timeoutMs: 300 }).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ kind: 'timeout' });
      await waitFor('the sleep to end', () => pidsWithCommandLine(`sleep ${marker}`).length === 0, { timeoutMs: 5_000 });
      expect((await transport.run(['echo', 'next'])).stdout).toBe('next\n');
    });

    it('ends a command when aborted, with a failing code', async () => {
      const marker = `8.${randomBytes(3).readUIntBE(0, 3)}`;
      await sessionsOfOneShell(transport, 1);
      const controller = new AbortController();
      const running = transport.run(['sleep', marker], { signal: controller.signal });
      await waitFor('the sleep to start', () => pidsWithCommandLine(`sleep ${marker}`).length > 0, { timeoutMs: 5_000 });
      controller.abort();
      expect((await running).code).not.toBe(0);
      await waitFor('the sleep to end', () => pidsWithCommandLine(`sleep ${marker}`).length === 0, { timeoutMs: 5_000 });
    });

    it('answers many commands at once, each its own output, shells and channels together', async () => {
      const results = await Promise.all(
        Array.from({ length: 24 }, (_, i) => transport.run({ script: `echo ${i}; echo e${i} >&2; exit ${i % 5}` })),
      );
      results.forEach((result, i) => {
        expect(result).toMatchObject({ code: i % 5, stdout: `${i}\n`, stderr: `e${i}\n` });
      });
    });
  });
}

/** The shell that ran `count` commands in a row, or null when they did not all run in one. */
async function sessionsOfOneShell(transport: SshTransport, count: number): Promise<string | null> {
  const seen = new Set<string>();
  for (let i = 0; i < count; i += 1) seen.add((await transport.run(whichShell)).stdout.trim());
  return seen.size === 1 ? [...seen][0]! : null;
}

describe.skipIf(sshdSkip !== undefined)('kept shells on a host with few sessions per connection (MaxSessions 2)', () => {
  let sshd: SshdHandle;
  let transport: SshTransport;

  beforeAll(async () => {
    sshd = await startSshd({ maxSessions: 2 });
    transport = await connectSsh(connectOptionsFor(sshd));
  });

  afterAll(async () => {
    await transport?.close();
    await sshd?.stop();
  });

  it('gives sessions back to the commands that need a channel of their own: a follower, a stream input, many at once', async () => {
    for (let i = 0; i < 3; i += 1) expect((await transport.run(['echo', String(i)])).stdout).toBe(`${i}\n`);
    const stop = new AbortController();
    const lines: string[] = [];
    // A follower holds a session for as long as it runs, as the server log's tail does during a deploy.
    const follower = transport.stream(['sh', '-c', 'echo following; exec sleep 30'], {
      longRunning: true,
      signal: stop.signal,
      onLine: (line) => lines.push(line),
    });
    await waitFor('the follower to run', () => lines.includes('following'), { timeoutMs: 10_000 });
    const big = randomBytes(100_000);
    const [piped, ...quick] = await Promise.all([
      transport.run(['wc', '-c'], { input: big }),
      ...Array.from({ length: 4 }, (_, i) => transport.run(['echo', `q${i}`])),
    ]);
    expect(piped.stdout.trim()).toBe(String(big.length));
    for (const [i, result] of quick.entries()) expect(result).toMatchObject({ code: 0, stdout: `q${i}\n` });
    stop.abort();
    await follower;
  });
});
