import { z } from 'zod';

/**
 * A release's MCP contract: what its clients (agents, whose prompts name its tools and arguments)
 * can rely on. Read through the SDK client after the health checks pass, recorded on the host as
 * `.mcp-deploy/contract.json`, written by `mcp-deploy contract --write` for review, and compared by
 * diff.ts. Only what a client sees is kept; no timestamps, so the same server always gives the
 * same bytes (stableJson).
 */

const json = z.record(z.string(), z.unknown());

const toolSchema = z.looseObject({
  name: z.string(),
  title: z.string().optional(),
  description: z.string().optional(),
  inputSchema: json,
  outputSchema: json.optional(),
  annotations: json.optional(),
});

const promptArgumentSchema = z.looseObject({
  name: z.string(),
  title: z.string().optional(),
  description: z.string().optional(),
  required: z.boolean().optional(),
});

const promptSchema = z.looseObject({
  name: z.string(),
  title: z.string().optional(),
  description: z.string().optional(),
  arguments: z.array(promptArgumentSchema).default([]),
});

const resourceSchema = z.looseObject({
  uri: z.string(),
  name: z.string(),
  title: z.string().optional(),
  description: z.string().optional(),
  mimeType: z.string().optional(),
});

const resourceTemplateSchema = z.looseObject({
  uriTemplate: z.string(),
  name: z.string(),
  title: z.string().optional(),
  description: z.string().optional(),
  mimeType: z.string().optional(),
});

/** The file format; a reader keeps accepting every version it knows. */
export const contractFormat = 1;

export const contractSchema = z.object({
  format: z.literal(contractFormat),
  protocol: z.object({
    /** `modern`: 2026-07-28 via server/discover; `legacy`: the 2025 initialize handshake. */
    era: z.enum(['modern', 'legacy']),
    version: z.string(),
  }),
  serverInfo: z.looseObject({ name: z.string(), version: z.string() }),
  capabilities: json,
  tools: z.array(toolSchema),
  prompts: z.array(promptSchema),
  resources: z.array(resourceSchema),
  resourceTemplates: z.array(resourceTemplateSchema),
});

export type Contract = z.output<typeof contractSchema>;
export type ContractTool = Contract['tools'][number];
export type ContractPrompt = Contract['prompts'][number];
export type ProtocolEra = Contract['protocol']['era'];

/** Counts and era: what `releases` shows per release. */
export type ContractSummary = {
  readonly tools: number;
  readonly prompts: number;
  readonly resources: number;
  readonly resourceTemplates: number;
  readonly era: ProtocolEra;
  readonly version: string;
};

export function summarizeContract(contract: Contract): ContractSummary {
  return {
    tools: contract.tools.length,
    prompts: contract.prompts.length,
    resources: contract.resources.length,
    resourceTemplates: contract.resourceTemplates.length,
    era: contract.protocol.era,
    version: contract.protocol.version,
  };
}

/** "3 tools, 1 prompt, 2 resources · 2026-07-28": one line for a listing. */
export function describeSummary(summary: ContractSummary): string {
  const count = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const resources = summary.resources + summary.resourceTemplates;
  return `${count(summary.tools, 'tool')}, ${count(summary.prompts, 'prompt')}, ${count(resources, 'resource')} · ${summary.version}`;
}

/**
 * The contract in canonical form: every list sorted by its key (name, uri, uriTemplate), so two
 * reads of the same server compare equal whatever order it lists things in.
 */
export function normalizeContract(contract: Contract): Contract {
  const byName = <T extends { name: string }>(items: readonly T[]) => [...items].sort((a, b) => compare(a.name, b.name));
  return {
    ...contract,
    tools: byName(contract.tools),
    prompts: byName(contract.prompts),
    resources: [...contract.resources].sort((a, b) => compare(a.uri, b.uri)),
    resourceTemplates: [...contract.resourceTemplates].sort((a, b) => compare(a.uriTemplate, b.uriTemplate)),
  };
}

/** JSON with object keys sorted at every depth and a final newline: byte-stable for review and for diffs. */
export function stableJson(value: unknown): string {
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort(compare)
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
  );
}

/** Parses contract JSON (a recorded file or a committed snapshot); the problem in words, or the contract. */
export function parseContract(text: string): { contract: Contract } | { problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { problem: 'is not valid JSON' };
  }
  const parsed = contractSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { problem: `is not a contract: ${issue ? `${issue.path.join('.') || '(top level)'}: ${issue.message}` : 'unknown'}` };
  }
  return { contract: normalizeContract(parsed.data) };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
