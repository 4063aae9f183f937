import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, selectTarget } from '../../source/config/load.js';
import { streamLog } from '../../source/engine/logs.js';
import { DeployError } from '../../source/errors.js';
import { connectSsh } from '../../source/remote/connect.js';
import type { Transport } from '../../source/remote/transport.js';
import { type SshdHandle, sshdSkipReason, startSshd } from '../harness/index.js';

/** `mcp-deploy logs --nginx` as the deploy user over real SSH, where nginx's log is root's. */
const skip = await sshdSkipReason();

describe.skipIf(skip !== undefined)(`reading logs on the host${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let sshd: SshdHandle;
  let transport: Transport;
  let scratch: string;
  beforeAll(async () => {
    sshd = await startSshd();
    transport = await connectSsh({
      host: sshd.host,
      port: sshd.port,
      user: sshd.user,
      identityFile: sshd.identityFile,
      knownHostsFile: sshd.knownHostsFile,
      agent: false,
    });
    scratch = await mkdtemp(join(tmpdir(), 'mcpd-logs-'));
    await chmod(scratch, 0o755);
  });
  afterAll(async () => {
    await transport?.close();
    await sshd?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('a log the SSH user may not read fails with the adm group hint, not an empty success', async () => {
    // Given nginx's error log readable by root only, as on Debian before the user joins adm
    const errorLog = join(scratch, 'error.log');
    await writeFile(errorLog, '2026/12/01 10:00:00 [error] 1#1: something\n', { mode: 0o600 });
    const config = parseConfig(
      JSON.stringify({
        app: 'logs',
        runtime: { type: 'command', command: 'true' },
        targets: { host: { host: sshd.host, path: join(sshd.workDir, 'app'), publicUrl: 'http://127.0.0.1:1', nginx: { errorLog } } },
      }),
      join(scratch, '.mcpdeployrc.json'),
      {},
    );
    const lines: string[] = [];

    // When the deploy user reads it
    const reading = streamLog({ target: selectTarget(config, undefined) }, transport, { nginx: true, lines: 10 }, (line) =>
      lines.push(line),
    );

    // Then it says why and how to fix it
    const error = await reading.then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(DeployError);
    expect((error as DeployError).message).toContain(`${errorLog} on ${transport.label} cannot be read by the SSH user: permission denied`);
    expect((error as DeployError).hint).toContain('usermod -aG adm');
    expect(lines.join('\n')).toContain('Permission denied');
  });
});
