import { describe, expect, it } from 'vitest';
import { ruleSeverity, type RuleId } from '../../source/contract/change.js';
import {
  contractFormat,
  normalizeContract,
  parseContract,
  stableJson,
  type Contract,
  type ContractTool,
} from '../../source/contract/contract.js';
import { diffContracts, hasBreaking } from '../../source/contract/diff.js';

/** Pairs of contracts, one per rule of docs/contract.md: each must give exactly its rule, with its documented severity. */

const search: ContractTool = {
  name: 'search',
  title: 'Search',
  description: 'Finds guidelines.',
  inputSchema: {
    type: 'object',
    properties: { query: { type: 'string' }, limit: { type: 'integer' }, kind: { type: 'string', enum: ['a', 'b', 'c'] } },
    required: ['query'],
  },
  outputSchema: { type: 'object', properties: { hits: { type: 'array' } } },
  annotations: { readOnlyHint: true },
};

function contract(overrides: Partial<Contract> = {}): Contract {
  return {
    format: contractFormat,
    protocol: { era: 'modern', version: '2026-07-28' },
    serverInfo: { name: 'fixture', version: '1.0.0' },
    capabilities: { tools: {}, prompts: {}, resources: {} },
    tools: [search],
    prompts: [{ name: 'greet', description: 'Greets.', arguments: [{ name: 'who', required: true }, { name: 'tone' }] }],
    resources: [{ uri: 'file:///readme', name: 'readme', mimeType: 'text/plain' }],
    resourceTemplates: [{ uriTemplate: 'file:///docs/{id}', name: 'doc', mimeType: 'text/markdown' }],
    ...overrides,
  };
}

const withTool = (change: (tool: ContractTool) => ContractTool) => contract({ tools: [change(structuredClone(search))] });
const input = (tool: ContractTool) => tool.inputSchema as { properties: Record<string, Record<string, unknown>>; required: string[] };

const pairs: readonly [RuleId, Contract][] = [
  ['tool.removed', contract({ tools: [] })],
  ['tool.added', contract({ tools: [search, { name: 'count', inputSchema: { type: 'object' } }] })],
  [
    'tool.argument.required-added',
    withTool((tool) => {
      input(tool).properties['lang'] = { type: 'string' };
      input(tool).required.push('lang');
      return tool;
    }),
  ],
  ['tool.argument.became-required', withTool((tool) => ({ ...tool, inputSchema: { ...tool.inputSchema, required: ['query', 'limit'] } }))],
  [
    'tool.argument.removed',
    withTool((tool) => {
      delete input(tool).properties['kind'];
      return tool;
    }),
  ],
  [
    'tool.argument.renamed',
    withTool((tool) => {
      input(tool).properties['max'] = input(tool).properties['limit']!;
      delete input(tool).properties['limit'];
      return tool;
    }),
  ],
  [
    'tool.argument.type-changed',
    withTool((tool) => {
      input(tool).properties['limit'] = { type: 'string' };
      return tool;
    }),
  ],
  [
    'tool.argument.type-widened',
    withTool((tool) => {
      input(tool).properties['limit'] = { type: 'number' };
      return tool;
    }),
  ],
  [
    'tool.argument.enum-narrowed',
    withTool((tool) => {
      input(tool).properties['kind'] = { type: 'string', enum: ['a', 'b'] };
      return tool;
    }),
  ],
  [
    'tool.argument.enum-widened',
    withTool((tool) => {
      input(tool).properties['kind'] = { type: 'string', enum: ['a', 'b', 'c', 'd'] };
      return tool;
    }),
  ],
  [
    'tool.argument.added',
    withTool((tool) => {
      input(tool).properties['offset'] = { type: 'integer' };
      return tool;
    }),
  ],
  ['tool.argument.became-optional', withTool((tool) => ({ ...tool, inputSchema: { ...tool.inputSchema, required: [] } }))],
  [
    'tool.argument.schema-changed',
    withTool((tool) => {
      input(tool).properties['limit'] = { type: 'integer', maximum: 10 };
      return tool;
    }),
  ],
  [
    'tool.argument.description-changed',
    withTool((tool) => {
      input(tool).properties['query'] = { type: 'string', description: 'What to look for.' };
      return tool;
    }),
  ],
  ['tool.input-changed', withTool((tool) => ({ ...tool, inputSchema: { ...tool.inputSchema, additionalProperties: false } }))],
  [
    'tool.output-added',
    contract({ tools: [{ ...search, name: 'search' }].map(({ outputSchema: _o, ...rest }) => rest) }) /* reversed below */,
  ],
  ['tool.output-removed', withTool(({ outputSchema: _output, ...tool }) => tool)],
  ['tool.output-changed', withTool((tool) => ({ ...tool, outputSchema: { type: 'object', properties: { hits: { type: 'string' } } } }))],
  ['tool.description-changed', withTool((tool) => ({ ...tool, description: 'Finds guidelines fast.' }))],
  ['tool.title-changed', withTool((tool) => ({ ...tool, title: 'Find' }))],
  ['tool.no-longer-read-only', withTool((tool) => ({ ...tool, annotations: { readOnlyHint: false } }))],
  [
    'tool.became-destructive',
    contract({ tools: [{ ...search, annotations: { destructiveHint: true } }] }) /* from a non-destructive tool, below */,
  ],
  ['tool.annotations-changed', withTool((tool) => ({ ...tool, annotations: { readOnlyHint: true, openWorldHint: false } }))],
  ['prompt.removed', contract({ prompts: [] })],
  ['prompt.added', contract({ prompts: [...contract().prompts, { name: 'summarize', arguments: [] }] })],
  [
    'prompt.argument.required-added',
    contract({
      prompts: [{ ...contract().prompts[0]!, arguments: [...contract().prompts[0]!.arguments, { name: 'lang', required: true }] }],
    }),
  ],
  [
    'prompt.argument.became-required',
    contract({
      prompts: [
        {
          ...contract().prompts[0]!,
          arguments: [
            { name: 'who', required: true },
            { name: 'tone', required: true },
          ],
        },
      ],
    }),
  ],
  ['prompt.argument.removed', contract({ prompts: [{ ...contract().prompts[0]!, arguments: [{ name: 'who', required: true }] }] })],
  [
    'prompt.argument.added',
    contract({ prompts: [{ ...contract().prompts[0]!, arguments: [...contract().prompts[0]!.arguments, { name: 'lang' }] }] }),
  ],
  [
    'prompt.argument.became-optional',
    contract({ prompts: [{ ...contract().prompts[0]!, arguments: [{ name: 'who' }, { name: 'tone' }] }] }),
  ],
  ['prompt.description-changed', contract({ prompts: [{ ...contract().prompts[0]!, description: 'Says hello.' }] })],
  ['resource.removed', contract({ resources: [] })],
  ['resource.added', contract({ resources: [...contract().resources, { uri: 'file:///changelog', name: 'changelog' }] })],
  ['resource.mime-type-changed', contract({ resources: [{ ...contract().resources[0]!, mimeType: 'text/markdown' }] })],
  ['resource.description-changed', contract({ resources: [{ ...contract().resources[0]!, description: 'Read me first.' }] })],
  ['resource-template.removed', contract({ resourceTemplates: [] })],
  [
    'resource-template.added',
    contract({ resourceTemplates: [...contract().resourceTemplates, { uriTemplate: 'file:///logs/{day}', name: 'log' }] }),
  ],
  [
    'resource-template.mime-type-changed',
    contract({ resourceTemplates: [{ ...contract().resourceTemplates[0]!, mimeType: 'text/html' }] }),
  ],
  ['resource-template.description-changed', contract({ resourceTemplates: [{ ...contract().resourceTemplates[0]!, name: 'document' }] })],
  ['protocol.era-changed', contract({ protocol: { era: 'legacy', version: '2025-11-25' } })],
];

/** Pairs whose "before" is not the base contract. */
const befores: Partial<Record<RuleId, Contract>> = {
  'tool.output-added': contract({ tools: [{ ...search, name: 'search' }].map(({ outputSchema: _o, ...rest }) => rest) }),
  'tool.became-destructive': contract({ tools: [{ ...search, annotations: { destructiveHint: false } }] }),
};
const afters: Partial<Record<RuleId, Contract>> = { 'tool.output-added': contract() };

describe('the contract diff: one pair of releases per rule', () => {
  it('covers every documented rule', () => {
    expect(pairs.map(([rule]) => rule).sort()).toEqual(Object.keys(ruleSeverity).sort());
  });

  it.each(pairs)('%s: found alone, with its documented severity', (rule, next) => {
    const diff = diffContracts(befores[rule] ?? contract(), afters[rule] ?? next);
    expect(diff.changes.map((change) => change.rule)).toEqual([rule]);
    const [found] = diff.changes;
    expect(found?.severity).toBe(ruleSeverity[rule]);
    expect(hasBreaking(diff)).toBe(ruleSeverity[rule] === 'breaking');
    expect(diff.counts[ruleSeverity[rule]]).toBe(1);
    expect(found?.text.startsWith(`${found.subject}: `)).toBe(true);
  });

  it('names what changed in words', () => {
    const text = (rule: RuleId) =>
      diffContracts(befores[rule] ?? contract(), afters[rule] ?? pairs.find(([r]) => r === rule)![1]).changes[0]?.text;
    expect(text('tool.removed')).toBe('tool search: removed');
    expect(text('tool.argument.required-added')).toBe('tool search: new required argument "lang"');
    expect(text('tool.argument.renamed')).toBe('tool search: argument "limit" renamed to "max"');
    expect(text('tool.argument.enum-narrowed')).toBe('tool search: argument "kind" no longer accepts "c"');
    expect(text('tool.argument.type-changed')).toBe('tool search: argument "limit" type integer → string');
    expect(text('tool.no-longer-read-only')).toBe('tool search: no longer read-only, and may be destructive');
    expect(text('prompt.argument.required-added')).toBe('prompt greet: new required argument "lang"');
  });

  it('lists breaking first, then risky, then safe, and sums them up in one line', () => {
    const next = contract({
      tools: [{ ...search, description: 'New words.', outputSchema: { type: 'string' } }],
      prompts: [],
    });
    const diff = diffContracts(contract(), next);
    expect(diff.changes.map((change) => change.severity)).toEqual(['breaking', 'risky', 'safe']);
    expect(diff.summary).toBe('MCP contract: 1 breaking, 1 risky, 1 safe change(s); now 1 tool(s), 0 prompt(s), 2 resource(s)');
    expect(diffContracts(contract(), contract()).summary).toBe('MCP contract unchanged: 1 tool(s), 1 prompt(s), 2 resource(s)');
  });

  it('ignores the order a server lists things in and the server version', () => {
    const shuffled = contract({
      serverInfo: { name: 'fixture', version: '9.9.9' },
      tools: [
        { name: 'b', inputSchema: {} },
        { name: 'a', inputSchema: {} },
      ],
    });
    const sorted = contract({
      tools: [
        { name: 'a', inputSchema: {} },
        { name: 'b', inputSchema: {} },
      ],
    });
    expect(diffContracts(sorted, shuffled).changes).toEqual([]);
    expect(normalizeContract(shuffled).tools.map((tool) => tool.name)).toEqual(['a', 'b']);
  });
});

describe('the contract as stable JSON', () => {
  it('sorts keys at every depth and reads back equal', () => {
    const text = stableJson(normalizeContract(contract()));
    expect(text).toBe(stableJson(JSON.parse(text)));
    expect(Object.keys(JSON.parse(text))).toEqual([
      'capabilities',
      'format',
      'prompts',
      'protocol',
      'resourceTemplates',
      'resources',
      'serverInfo',
      'tools',
    ]);
    const parsed = parseContract(text);
    expect('contract' in parsed && parsed.contract).toEqual(normalizeContract(contract()));
  });

  it('says what is wrong with a file that is not a contract', () => {
    expect(parseContract('{')).toEqual({ problem: 'is not valid JSON' });
    expect(parseContract('{"format": 2}')).toMatchObject({ problem: expect.stringMatching(/^is not a contract: format: /) });
  });
});
