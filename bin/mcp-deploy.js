#!/usr/bin/env node
// mcp-deploy's entry point. Kept in plain JavaScript so it can check the Node version before
// loading anything that needs a newer one.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [major, minor] = process.versions.node.split('.').map(Number);
// 22.19: undici 8 (the health checks' HTTP client) needs it.
const tooOld = major < 22 || (major === 22 && minor < 19);
// Test-only: take the re-exec path on any Node, so CI machines whose Node is new enough still test it.
const relaunchForTests = process.env.MCP_DEPLOY_TESTING === '1' && process.env.MCP_DEPLOY_RELAUNCH === '1';

if ((tooOld || relaunchForTests) && process.env.MCP_DEPLOY_REEXEC !== '1') {
  // In a checkout, the repo brings Node 24 as a devDependency: use it rather than fail.
  const bundled = join(root, 'node_modules', 'node', 'bin', 'node');
  if (existsSync(bundled)) {
    const { relaunch } = await import('./relaunch.js');
    relaunch(bundled, [fileURLToPath(import.meta.url), ...process.argv.slice(2)]);
  } else {
    process.stderr.write(
      `mcp-deploy needs Node.js 22.19 or newer; this is ${process.version}. Install a current LTS (24) and try again.\n`,
    );
    process.exit(2);
  }
} else {
  const entry = join(root, 'dist', 'cli', 'main.js');
  if (!existsSync(entry)) {
    process.stderr.write('mcp-deploy is not built yet: run `npm install` (or `npm run build`) in its folder first.\n');
    process.exit(2);
  }

  const { main } = await import(pathToFileURL(entry).href);
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
  // The command is over and its handlers are gone: a Ctrl-C (or SIGTERM) while Node winds down
  // must not kill us with the signal's default action, which would turn a finished deploy's exit
  // code into "killed by SIGINT". Exit at once with the real code instead (found by the fault
  // matrix: a second Ctrl-C 100 ms after the first, landing just after the run ended).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => process.exit(code));
  // Let stdout drain, but never hang on a handle a library forgot to close.
  setTimeout(() => process.exit(code), 3000).unref();
}
