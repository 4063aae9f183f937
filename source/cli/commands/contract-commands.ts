import { readFile, rename, writeFile } from 'node:fs/promises';
import { type Contract, parseContract, stableJson } from '../../contract/contract.js';
import { type ContractDiff, diffContracts } from '../../contract/diff.js';
import { localContract, releaseContract } from '../../engine/contract-sources.js';
import { DeployError, exitCodes } from '../../errors.js';
import type { Transport } from '../../remote/transport.js';
import { changeMark } from '../../report/contract-change.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { createRunContext } from '../run-context.js';

export type ContractOptions = GlobalOptions & { readonly write?: string; readonly check?: string };

/**
 * `mcp-deploy contract [--write FILE | --check FILE]`: the local server's MCP contract as stable,
 * sorted JSON (the same bytes every time for the same server), on stdout, into FILE for a
 * repository to commit, or compared with a committed FILE (exit 1 when it is stale).
 */
export async function contractCommand(options: ContractOptions, output: Output): Promise<number> {
  if (options.write !== undefined && options.check !== undefined) {
    throw new DeployError('usage', 'Give --write or --check, not both.');
  }
  const context = createRunContext({ ...options }, output, { plain: true });
  try {
    const contract = await localContract(context);
    const text = stableJson(contract);
    if (options.write !== undefined) {
      const temporary = `${options.write}.${process.pid}.tmp`;
      await writeFile(temporary, text);
      await rename(temporary, options.write);
      const counts = `${contract.tools.length} tool(s), ${contract.prompts.length} prompt(s), ${contract.resources.length + contract.resourceTemplates.length} resource(s)`;
      if (output.json) output.document({ ok: true, file: options.write, tools: contract.tools.length, exitCode: 0 });
      else output.line(`Wrote ${options.write}: ${counts}.`);
      return exitCodes.ok;
    }
    if (options.check !== undefined) return await checkSnapshot(output, options.check, contract, text);
    // The contract is the command's data: on stdout, as it would be written.
    if (output.json) output.document(contract);
    else output.write(text);
    return exitCodes.ok;
  } finally {
    context.dispose();
  }
}

async function checkSnapshot(output: Output, file: string, live: Contract, text: string): Promise<number> {
  let committed: string;
  try {
    committed = await readFile(file, 'utf8');
  } catch {
    throw new DeployError('usage', `Cannot read ${file}.`, { hint: `Write it with: mcp-deploy contract --write ${file}` });
  }
  const parsed = parseContract(committed);
  if (!('contract' in parsed))
    throw new DeployError('usage', `${file} ${parsed.problem}.`, { hint: `Write it anew with: mcp-deploy contract --write ${file}` });
  const stale = stableJson(parsed.contract) !== text;
  const diff = diffContracts(parsed.contract, live);
  if (output.json) {
    output.document({ ok: !stale, file, stale, ...diff, exitCode: stale ? exitCodes.deployFailed : exitCodes.ok });
    return stale ? exitCodes.deployFailed : exitCodes.ok;
  }
  if (!stale) {
    output.line(`${file} is up to date.`);
    return exitCodes.ok;
  }
  writeDiff(output, diff, { from: file, to: 'the local server' });
  output.line(`${file} is stale: the server's contract changed. Update it with: mcp-deploy contract --write ${file}`);
  return exitCodes.deployFailed;
}

/**
 * `mcp-deploy diff [FROM] [TO]`: the semantic diff of two contracts. Each side is a release id on
 * the host, `active` (what serves now) or `local` (the validated local tree, its server started
 * here); FROM defaults to active and TO to local.
 */
export async function diffCommand(
  from: string | undefined,
  to: string | undefined,
  options: GlobalOptions,
  output: Output,
): Promise<number> {
  const sides = { from: from ?? 'active', to: to ?? 'local' };
  const context = createRunContext({ ...options, yes: true }, output, { plain: true });
  let transport: Transport | null = null;
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
    if (output.json) output.document({ from: before.label, to: after.label, ...diff });
    else writeDiff(output, diff, { from: before.label, to: after.label });
    return exitCodes.ok;
  } finally {
    await (transport as Transport | null)?.close().catch(() => undefined);
    context.dispose();
  }
}

function writeDiff(output: Output, diff: ContractDiff, sides: { from: string; to: string }): void {
  const { paint } = output;
  output.line(`${paint.bold(`${sides.from} → ${sides.to}`)}\n${diff.summary}`);
  for (const change of diff.changes) output.line(`  ${changeMark(change, paint)} ${change.text} ${paint.dim(`[${change.rule}]`)}`);
}
