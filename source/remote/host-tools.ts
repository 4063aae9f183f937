import { DeployError } from '../errors.js';
import { op, script } from './quote.js';
import type { Transport } from './transport.js';

/**
 * What the upload needs to know about the host's tools, asked in one command that can ride along
 * with others: GNU tar (its sparse and pax support), and which decompressors exist.
 */
export type HostTools = { readonly gnuTar: boolean; readonly zstd: boolean; readonly gzip: boolean };

const marker = 'mcp-deploy-tools:';

/** Prints one line, `mcp-deploy-tools: <names>`, whatever else the script around it prints. */
export const hostToolsProbe = script(
  op(`{ printf '${marker}'; command -v zstd >/dev/null 2>&1 && printf ' zstd'; command -v gzip >/dev/null 2>&1 && printf ' gzip';`),
  op(`tar --version 2>/dev/null | head -n 1 | grep -q 'GNU tar' && printf ' gnutar'; echo; }`),
);

/** The tools named in `output` by `hostToolsProbe`, or null when the line is missing. */
export function parseHostTools(output: string): HostTools | null {
  const line = output.split('\n').find((text) => text.startsWith(marker));
  if (line === undefined) return null;
  const names = new Set(line.slice(marker.length).trim().split(/\s+/));
  return { gnuTar: names.has('gnutar'), zstd: names.has('zstd'), gzip: names.has('gzip') };
}

/** The probe on its own, for callers that have no other command to send it with. */
export async function probeHostTools(transport: Transport): Promise<HostTools> {
  const result = await transport.run({ script: hostToolsProbe });
  const tools = parseHostTools(result.stdout);
  if (tools === null)
    throw new DeployError(
      'host-state',
      `Could not ask ${transport.label} which tools it has (exit ${result.code}): ${result.stderr.trim()}`,
    );
  return tools;
}
