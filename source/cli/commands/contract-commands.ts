import { readFile, rename, writeFile } from 'node:fs/promises';
import { Chalk } from 'chalk';
import { type Contract, parseContract, stableJson } from '../../contract/contract.js';
import { type ContractDiff, diffContracts } from '../../contract/diff.js';
import { localContract, releaseContract } from '../../engine/contract-sources.js';
import { DeployError, exitCodes } from '../../errors.js';
import type { GlobalOptions } from '../options.js';
import { createRunContext, type RunContext } from '../run-context.js';

export type ContractOptions = GlobalOptions & { readonly write?: string; readonly check?: string };

/**
 * `mcp-deploy contract [--write FILE | --check FILE]`: the local server's MCP contract as stable,
 * sorted JSON (the same bytes every time for the same server), on stdout, into FILE for a
 * repository to commit, or compared with a committed FILE (exit 1 when it is stale).
 */
export async function contractCommand(options: ContractOptions): Promise<number> {
  if (options.write !== undefined && options.check !== undefined) {
    throw new DeployError('usage', 'Give --write or --check, not both.');
  }
  // Progress goes to stderr: stdout may carry the contract itself.
  const context = createRunContext({ ...options, json: true }, { plain: true });
  try {
    const contract = await localContract(context);
    const text = stableJson(contract);
    if (options.write !== undefined) {
      const temporary = `${options.write}.${process.pid}.tmp`;
      await writeFile(temporary, text);
      await rename(temporary, options.write);
      context.out.write(
        `Wrote ${options.write}: ${contract.tools.length} tool(s), ${contract.prompts.length} prompt(s), ${contract.resources.length + contract.resourceTemplates.length} resource(s).\n`,
      );
      return exitCodes.ok;
    }
    if (options.check !== undefined) return await checkSnapshot(context, options.check, contract, text);
    process.stdout.write(text);
    return exitCodes.ok;
  } finally {
    context.dispose();
  }
}

async function checkSnapshot(context: RunContext, file: string, live: Contract, text: string): Promise<number> {
  let committed: string;
  try {
    committed = await readFile(file, 'utf8');
  } catch {
    throw new DeployError('usage', `Cannot read ${file}.`, { hint: `Write it with: mcp-deploy contract --write ${file}` });
  }
  const parsed = parseContract(committed);
  if (!('contract' in parsed))
    throw new DeployError('usage', `${file} ${parsed.problem}.`, { hint: `Write it anew with: mcp-deploy contract --write ${file}` });
  if (stableJson(parsed.contract) === text) {
    context.out.write(`${file} is up to date.\n`);
    return exitCodes.ok;
  }
  const diff = diffContracts(parsed.contract, live);
  writeDiff(context, diff, { from: file, to: 'the local server' });
  context.out.write(`${file} is stale: the server's contract changed. Update it with: mcp-deploy contract --write ${file}\n`);
  return exitCodes.deployFailed;
}

/**
 * `mcp-deploy diff [FROM] [TO]`: the semantic diff of two contracts. Each side is a release id on
 * the host, `active` (what serves now) or `local` (the validated local tree, its server started
 * here); FROM defaults to active and TO to local.
 */
export async function diffCommand(from: string | undefined, to: string | undefined, options: GlobalOptions): Promise<number> {
  const sides = { from: from ?? 'active', to: to ?? 'local' };
  const context = createRunContext({ ...options, yes: true }, { plain: true });
  let transport: Awaited<ReturnType<RunContext['connect']>> | null = null;
  try {
    const read = async (source: string): Promise<{ label: string; contract: Contract }> => {
      if (source === 'local') return { label: 'the local tree', contract: await localContract(context) };
      transport ??= await context.connect();
      const { release, contract } = await releaseContract(context, transport, source);
      return { label: source === 'active' ? `${release} (active)` : release, contract };
    };
    const before = await read(sides.from);
    const after = await read(sides.to);
    const diff = diffContracts(before.contract, after.contract);
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ from: before.label, to: after.label, ...diff }, null, 2)}\n`);
    } else {
      writeDiff(context, diff, { from: before.label, to: after.label });
    }
    return exitCodes.ok;
  } finally {
    await (transport as Awaited<ReturnType<RunContext['connect']>> | null)?.close().catch(() => undefined);
    context.dispose();
  }
}

function writeDiff(context: RunContext, diff: ContractDiff, sides: { from: string; to: string }): void {
  const paint = new Chalk({ level: context.color ? 1 : 0 });
  context.out.write(`${paint.bold(`${sides.from} → ${sides.to}`)}\n${diff.summary}\n`);
  for (const change of diff.changes) {
    const mark =
      change.severity === 'breaking'
        ? paint.red('✖ breaking')
        : change.severity === 'risky'
          ? paint.yellow('! risky   ')
          : paint.dim('· safe    ');
    context.out.write(`  ${mark} ${change.text} ${paint.dim(`[${change.rule}]`)}\n`);
  }
}
