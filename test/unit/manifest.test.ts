import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isDeployError } from '../../source/errors.js';
import { buildManifest } from '../../source/engine/manifest.js';

const dir = mkdtempSync(join(tmpdir(), 'mcpd-manifest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('buildManifest', () => {
  it("hashes each file's bytes", async () => {
    writeFileSync(join(dir, 'a.txt'), 'abc');
    const [entry] = await buildManifest([{ path: 'a.txt', absolutePath: join(dir, 'a.txt'), size: 3, mode: 0o100644 }]);
    expect(entry).toEqual({
      path: 'a.txt',
      size: 3,
      mode: 0o644,
      sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    });
  });

  it('names a file that was listed and is gone when it is hashed, as a usage problem to run again', async () => {
    const error = await buildManifest([{ path: 'data.txt', absolutePath: join(dir, 'data.txt'), size: 3, mode: 0o100644 }]).catch(
      (caught: unknown) => caught,
    );
    expect(isDeployError(error) && error.kind).toBe('validate');
    expect((error as Error).message).toMatch(/^data\.txt disappeared while the release's files were being hashed/);
  });
});
