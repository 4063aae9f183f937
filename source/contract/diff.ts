import { bySeverity, change, type ContractChange, type Severity } from './change.js';
import type { Contract, ContractPrompt } from './contract.js';
import { diffTool } from './tool-diff.js';

export type { ContractChange, RuleId, Severity } from './change.js';

/** A semantic diff of two contracts: what a client of the old release would notice in the new one. */
export type ContractDiff = {
  /** Breaking first, then risky, then safe. */
  readonly changes: readonly ContractChange[];
  readonly counts: Readonly<Record<Severity, number>>;
  /** One line for a plan header, a step detail or a notification. */
  readonly summary: string;
};

/**
 * Compares two contracts by the rules in docs/contract.md. Pure: tools, prompts, resources and
 * resource templates are matched by name, name, uri and uriTemplate; a changed one is looked into.
 */
export function diffContracts(before: Contract, after: Contract): ContractDiff {
  const changes: ContractChange[] = [];
  if (before.protocol.era !== after.protocol.era) {
    changes.push(
      change(
        'protocol.era-changed',
        'protocol',
        `${before.protocol.version} (${before.protocol.era}) → ${after.protocol.version} (${after.protocol.era}); clients of the old era may not connect`,
      ),
    );
  }
  changes.push(
    ...matched(before.tools, after.tools, (tool) => tool.name, {
      removed: (tool) => change('tool.removed', `tool ${tool.name}`, 'removed'),
      added: (tool) => change('tool.added', `tool ${tool.name}`, 'added'),
      both: diffTool,
    }),
    ...matched(before.prompts, after.prompts, (prompt) => prompt.name, {
      removed: (prompt) => change('prompt.removed', `prompt ${prompt.name}`, 'removed'),
      added: (prompt) => change('prompt.added', `prompt ${prompt.name}`, 'added'),
      both: diffPrompt,
    }),
    ...matched(before.resources, after.resources, (resource) => resource.uri, {
      removed: (resource) => change('resource.removed', `resource ${resource.uri}`, 'removed'),
      added: (resource) => change('resource.added', `resource ${resource.uri}`, 'added'),
      both: (old, next) => [
        ...(old.mimeType !== next.mimeType
          ? [
              change(
                'resource.mime-type-changed',
                `resource ${next.uri}`,
                `MIME type ${old.mimeType ?? '(none)'} → ${next.mimeType ?? '(none)'}`,
              ),
            ]
          : []),
        ...(old.name !== next.name || (old.description ?? '') !== (next.description ?? '') || (old.title ?? '') !== (next.title ?? '')
          ? [change('resource.description-changed', `resource ${next.uri}`, 'name, title or description changed')]
          : []),
      ],
    }),
    ...matched(before.resourceTemplates, after.resourceTemplates, (template) => template.uriTemplate, {
      removed: (template) => change('resource-template.removed', `resource template ${template.uriTemplate}`, 'removed'),
      added: (template) => change('resource-template.added', `resource template ${template.uriTemplate}`, 'added'),
      both: (old, next) => [
        ...(old.mimeType !== next.mimeType
          ? [
              change(
                'resource-template.mime-type-changed',
                `resource template ${next.uriTemplate}`,
                `MIME type ${old.mimeType ?? '(none)'} → ${next.mimeType ?? '(none)'}`,
              ),
            ]
          : []),
        ...(old.name !== next.name || (old.description ?? '') !== (next.description ?? '') || (old.title ?? '') !== (next.title ?? '')
          ? [change('resource-template.description-changed', `resource template ${next.uriTemplate}`, 'name, title or description changed')]
          : []),
      ],
    }),
  );
  const sorted = bySeverity(changes);
  const counts = { breaking: 0, risky: 0, safe: 0 };
  for (const item of sorted) counts[item.severity] += 1;
  return { changes: sorted, counts, summary: summaryLine(counts, after) };
}

export function hasBreaking(diff: ContractDiff | null | undefined): boolean {
  return (diff?.counts.breaking ?? 0) > 0;
}

function summaryLine(counts: Record<Severity, number>, after: Contract): string {
  const total = counts.breaking + counts.risky + counts.safe;
  const size = `${after.tools.length} tool(s), ${after.prompts.length} prompt(s), ${after.resources.length + after.resourceTemplates.length} resource(s)`;
  if (total === 0) return `MCP contract unchanged: ${size}`;
  return `MCP contract: ${counts.breaking} breaking, ${counts.risky} risky, ${counts.safe} safe change(s); now ${size}`;
}

function diffPrompt(before: ContractPrompt, after: ContractPrompt): ContractChange[] {
  const subject = `prompt ${after.name}`;
  const old = new Map(before.arguments.map((argument) => [argument.name, argument]));
  const next = new Map(after.arguments.map((argument) => [argument.name, argument]));
  const changes: ContractChange[] = [];
  for (const [name, argument] of old) {
    const now = next.get(name);
    if (now === undefined) changes.push(change('prompt.argument.removed', subject, `argument ${JSON.stringify(name)} removed`));
    else if (now.required === true && argument.required !== true)
      changes.push(change('prompt.argument.became-required', subject, `argument ${JSON.stringify(name)} is now required`));
    else if (now.required !== true && argument.required === true)
      changes.push(change('prompt.argument.became-optional', subject, `argument ${JSON.stringify(name)} is now optional`));
  }
  for (const [name, argument] of next) {
    if (old.has(name)) continue;
    changes.push(
      argument.required === true
        ? change('prompt.argument.required-added', subject, `new required argument ${JSON.stringify(name)}`)
        : change('prompt.argument.added', subject, `new optional argument ${JSON.stringify(name)}`),
    );
  }
  if ((before.description ?? '') !== (after.description ?? '') || (before.title ?? '') !== (after.title ?? '')) {
    changes.push(change('prompt.description-changed', subject, 'title or description changed'));
  }
  return changes;
}

function matched<T>(
  before: readonly T[],
  after: readonly T[],
  key: (item: T) => string,
  rules: { removed: (item: T) => ContractChange; added: (item: T) => ContractChange; both: (old: T, next: T) => ContractChange[] },
): ContractChange[] {
  const old = new Map(before.map((item) => [key(item), item]));
  const next = new Map(after.map((item) => [key(item), item]));
  const changes: ContractChange[] = [];
  for (const name of [...new Set([...old.keys(), ...next.keys()])].sort()) {
    const was = old.get(name);
    const now = next.get(name);
    if (was !== undefined && now === undefined) changes.push(rules.removed(was));
    else if (was === undefined && now !== undefined) changes.push(rules.added(now));
    else if (was !== undefined && now !== undefined) changes.push(...rules.both(was, now));
  }
  return changes;
}
