/**
 * One line of a contract diff. Every rule has an id (a public contract: `--json` and notification
 * receivers key on it) and a fixed severity, documented in docs/contract.md:
 * - breaking: a client that worked with the old release can now fail (a call is refused or
 *   means something else). A `--yes` deploy stops before the switch unless breaking changes
 *   are allowed.
 * - risky: calls still succeed, but what comes back or what a tool may do changed; shown, not
 *   gated.
 * - safe: nothing a client relies on is taken away.
 */
export type Severity = 'breaking' | 'risky' | 'safe';

export const ruleSeverity = {
  'tool.removed': 'breaking',
  'tool.added': 'safe',
  'tool.argument.required-added': 'breaking',
  'tool.argument.became-required': 'breaking',
  'tool.argument.removed': 'breaking',
  'tool.argument.renamed': 'breaking',
  'tool.argument.type-changed': 'breaking',
  'tool.argument.type-widened': 'safe',
  'tool.argument.enum-narrowed': 'breaking',
  'tool.argument.enum-widened': 'safe',
  'tool.argument.added': 'safe',
  'tool.argument.became-optional': 'safe',
  'tool.argument.schema-changed': 'risky',
  'tool.argument.description-changed': 'safe',
  'tool.input-changed': 'risky',
  'tool.output-added': 'safe',
  'tool.output-removed': 'risky',
  'tool.output-changed': 'risky',
  'tool.description-changed': 'safe',
  'tool.title-changed': 'safe',
  'tool.no-longer-read-only': 'risky',
  'tool.became-destructive': 'risky',
  'tool.annotations-changed': 'safe',
  'prompt.removed': 'breaking',
  'prompt.added': 'safe',
  'prompt.argument.required-added': 'breaking',
  'prompt.argument.became-required': 'breaking',
  'prompt.argument.removed': 'breaking',
  'prompt.argument.added': 'safe',
  'prompt.argument.became-optional': 'safe',
  'prompt.description-changed': 'safe',
  'resource.removed': 'breaking',
  'resource.added': 'safe',
  'resource.mime-type-changed': 'risky',
  'resource.description-changed': 'safe',
  'resource-template.removed': 'breaking',
  'resource-template.added': 'safe',
  'resource-template.mime-type-changed': 'risky',
  'resource-template.description-changed': 'safe',
  'protocol.era-changed': 'risky',
} as const satisfies Record<string, Severity>;

export type RuleId = keyof typeof ruleSeverity;

export type ContractChange = {
  readonly rule: RuleId;
  readonly severity: Severity;
  /** What changed: `tool search`, `prompt greet`, `resource file:///readme`. */
  readonly subject: string;
  /** The change in words, subject first: `tool search: new required argument "limit"`. */
  readonly text: string;
};

export function change(rule: RuleId, subject: string, what: string): ContractChange {
  return { rule, severity: ruleSeverity[rule], subject, text: `${subject}: ${what}` };
}

const order: Record<Severity, number> = { breaking: 0, risky: 1, safe: 2 };

/** Breaking first, then risky, then safe; within each, in the order found (subjects are sorted). */
export function bySeverity(changes: readonly ContractChange[]): ContractChange[] {
  return changes
    .map((item, index) => ({ item, index }))
    .sort((a, b) => order[a.item.severity] - order[b.item.severity] || a.index - b.index)
    .map(({ item }) => item);
}
