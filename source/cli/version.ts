import { readFileSync } from 'node:fs';

/** mcp-deploy's own version, from package.json (source/cli and dist/cli are both two levels below the root). */
export function packageVersion(): string {
  try {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return manifest.version ?? 'latest';
  } catch {
    return 'latest';
  }
}
