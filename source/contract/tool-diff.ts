import { change, type ContractChange } from './change.js';
import type { ContractTool } from './contract.js';
import { stableJson } from './contract.js';

type Schema = Record<string, unknown>;

/**
 * What changed in one tool that both releases serve: its arguments (the input schema's top-level
 * properties and `required`), its output schema, its description and title, and the annotations
 * clients act on (readOnlyHint, destructiveHint, with the spec's defaults: not read-only, and
 * destructive unless it says otherwise).
 */
export function diffTool(before: ContractTool, after: ContractTool): ContractChange[] {
  const subject = `tool ${after.name}`;
  const changes: ContractChange[] = [...diffArguments(subject, before.inputSchema, after.inputSchema)];
  if (changes.length === 0 && stableJson(before.inputSchema) !== stableJson(after.inputSchema)) {
    changes.push(change('tool.input-changed', subject, 'input schema changed (beyond its arguments)'));
  }
  if (before.outputSchema === undefined && after.outputSchema !== undefined) {
    changes.push(change('tool.output-added', subject, 'now declares an output schema'));
  } else if (before.outputSchema !== undefined && after.outputSchema === undefined) {
    changes.push(change('tool.output-removed', subject, 'no longer declares an output schema'));
  } else if (before.outputSchema !== undefined && stableJson(before.outputSchema) !== stableJson(after.outputSchema)) {
    changes.push(change('tool.output-changed', subject, 'output schema changed'));
  }
  if ((before.description ?? '') !== (after.description ?? ''))
    changes.push(change('tool.description-changed', subject, 'description changed'));
  if ((before.title ?? '') !== (after.title ?? '')) {
    changes.push(change('tool.title-changed', subject, `title ${quoted(before.title)} → ${quoted(after.title)}`));
  }
  changes.push(...diffAnnotations(subject, before.annotations ?? {}, after.annotations ?? {}));
  return changes;
}

function diffArguments(subject: string, before: Schema, after: Schema): ContractChange[] {
  const oldProps = propertiesOf(before);
  const newProps = propertiesOf(after);
  const oldRequired = requiredOf(before);
  const newRequired = requiredOf(after);
  const removed = [...oldProps.keys()].filter((name) => !newProps.has(name));
  const added = [...newProps.keys()].filter((name) => !oldProps.has(name));
  const changes: ContractChange[] = [];

  // One argument gone and one come, of the same type: most likely a rename, and breaking either way.
  const renamed =
    removed.length === 1 && added.length === 1 && typeOf(oldProps.get(removed[0]!)) === typeOf(newProps.get(added[0]!))
      ? { from: removed[0]!, to: added[0]! }
      : null;
  if (renamed) {
    changes.push(change('tool.argument.renamed', subject, `argument ${quoted(renamed.from)} renamed to ${quoted(renamed.to)}`));
  } else {
    for (const name of removed) changes.push(change('tool.argument.removed', subject, `argument ${quoted(name)} removed`));
    for (const name of added) {
      changes.push(
        newRequired.has(name)
          ? change('tool.argument.required-added', subject, `new required argument ${quoted(name)}`)
          : change('tool.argument.added', subject, `new optional argument ${quoted(name)}`),
      );
    }
  }
  for (const [name, oldSchema] of oldProps) {
    const newSchema = newProps.get(name);
    if (newSchema === undefined) continue;
    if (newRequired.has(name) && !oldRequired.has(name)) {
      changes.push(change('tool.argument.became-required', subject, `argument ${quoted(name)} is now required`));
    } else if (oldRequired.has(name) && !newRequired.has(name)) {
      changes.push(change('tool.argument.became-optional', subject, `argument ${quoted(name)} is now optional`));
    }
    changes.push(...diffArgument(subject, name, oldSchema, newSchema));
  }
  // A required argument the schema does not describe (no property) still must be sent.
  for (const name of newRequired) {
    if (!newProps.has(name) && !oldRequired.has(name)) {
      changes.push(change('tool.argument.required-added', subject, `new required argument ${quoted(name)}`));
    }
  }
  return changes;
}

function diffArgument(subject: string, name: string, before: Schema, after: Schema): ContractChange[] {
  const changes: ContractChange[] = [];
  const oldType = typeOf(before);
  const newType = typeOf(after);
  if (oldType !== newType) {
    changes.push(
      widens(oldType, newType)
        ? change('tool.argument.type-widened', subject, `argument ${quoted(name)} type ${oldType} → ${newType}`)
        : change('tool.argument.type-changed', subject, `argument ${quoted(name)} type ${oldType} → ${newType}`),
    );
  }
  const oldEnum = Array.isArray(before['enum']) ? before['enum'].map((value) => JSON.stringify(value)) : null;
  const newEnum = Array.isArray(after['enum']) ? after['enum'].map((value) => JSON.stringify(value)) : null;
  if (newEnum !== null && (oldEnum === null || oldEnum.some((value) => !newEnum.includes(value)))) {
    const lost = oldEnum === null ? 'any value' : oldEnum.filter((value) => !newEnum.includes(value)).join(', ');
    changes.push(change('tool.argument.enum-narrowed', subject, `argument ${quoted(name)} no longer accepts ${lost}`));
  } else if (oldEnum !== null && (newEnum === null || newEnum.some((value) => !oldEnum.includes(value)))) {
    changes.push(change('tool.argument.enum-widened', subject, `argument ${quoted(name)} accepts more values`));
  }
  const rest = (schema: Schema) => {
    const { type: _type, enum: _enum, description: _description, title: _title, ...others } = schema;
    return stableJson(others);
  };
  if (rest(before) !== rest(after)) {
    changes.push(change('tool.argument.schema-changed', subject, `argument ${quoted(name)} schema changed`));
  }
  if ((before['description'] ?? '') !== (after['description'] ?? '')) {
    changes.push(change('tool.argument.description-changed', subject, `argument ${quoted(name)} description changed`));
  }
  return changes;
}

function diffAnnotations(subject: string, before: Schema, after: Schema): ContractChange[] {
  const readOnly = (annotations: Schema) => annotations['readOnlyHint'] === true;
  const destructive = (annotations: Schema) => !readOnly(annotations) && annotations['destructiveHint'] !== false;
  if (readOnly(before) && !readOnly(after)) {
    return [
      change(
        'tool.no-longer-read-only',
        subject,
        destructive(after) ? 'no longer read-only, and may be destructive' : 'no longer read-only',
      ),
    ];
  }
  if (!destructive(before) && destructive(after)) return [change('tool.became-destructive', subject, 'became destructive')];
  if (stableJson(before) !== stableJson(after)) return [change('tool.annotations-changed', subject, 'annotations changed')];
  return [];
}

function propertiesOf(schema: Schema): Map<string, Schema> {
  const properties = schema['properties'];
  if (typeof properties !== 'object' || properties === null) return new Map();
  return new Map(
    Object.entries(properties as Record<string, unknown>).map(([name, value]) => [
      name,
      typeof value === 'object' && value !== null ? (value as Schema) : {},
    ]),
  );
}

function requiredOf(schema: Schema): Set<string> {
  return new Set(Array.isArray(schema['required']) ? schema['required'].filter((name) => typeof name === 'string') : []);
}

/** `string`, `integer|null`, or `any` when the schema names no type. */
function typeOf(schema: Schema | undefined): string {
  const type = schema?.['type'];
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) return [...type].map(String).sort().join('|');
  return 'any';
}

/** Whether every value of `before` is still accepted by `after` (integer is a number; any takes all). */
function widens(before: string, after: string): boolean {
  if (after === 'any') return true;
  if (before === 'any') return false;
  const accepted = new Set(after.split('|'));
  return before.split('|').every((type) => accepted.has(type) || (type === 'integer' && accepted.has('number')));
}

function quoted(text: string | undefined): string {
  return text === undefined ? '(none)' : JSON.stringify(text);
}
