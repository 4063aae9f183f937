#!/usr/bin/env node
// `npm run demo`: make a sandbox host with its own nginx, deploy the example MCP server to it
// for real (validate, upload, venv, blue/green cutover), then show how to talk to it.
// Run it again to see a second deploy go to the other colour with only changed bytes uploaded.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'mcp-deploy.js');
const node = process.execPath;
const extra = process.argv.slice(2);

if (extra[0] === 'down') {
  process.exit(spawnSync(node, [bin, 'sandbox', 'down'], { stdio: 'inherit', cwd: root }).status ?? 1);
}

const up = spawnSync(node, [bin, 'sandbox', 'up'], { stdio: 'inherit', cwd: root });
if (up.status !== 0) process.exit(up.status ?? 1);

const config = join(root, '.sandbox', 'mcpdeployrc.json');
const deploy = spawnSync(node, [bin, 'deploy', '--config', config, ...extra], { stdio: 'inherit', cwd: root });
if (deploy.status !== 0) process.exit(deploy.status ?? 1);

const { publicUrl } = await import(join(root, '.sandbox', 'mcpdeployrc.json'), { with: { type: 'json' } }).then((module) => ({
  publicUrl: module.default.targets.sandbox.publicUrl,
}));
process.stdout.write(`
The example MCP server is live behind the sandbox nginx: ${publicUrl}
Try it:
  curl -s ${publicUrl}/health
  curl -s -X POST ${publicUrl}/mcp -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \\
       -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
More:
  node bin/mcp-deploy.js releases --config ${config}
  node bin/mcp-deploy.js rollback --config ${config}
  npm run demo -- down      # stop the sandbox's nginx and servers
`);
