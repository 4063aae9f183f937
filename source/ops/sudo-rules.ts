import type { HostCommand } from '../config/schema.js';
import { dumpHostCommand } from '../engine/nginx.js';
import { arg, op, script } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';

/**
 * What root rights a target needs, read from its config: the `sudo …` nginx commands, and the
 * systemctl commands of a system-wide systemd supervisor. Doctor checks them (`sudo -n -l`);
 * setup prints the sudoers rule that grants exactly them.
 */

export type SudoCommand = {
  /** The configured command, for messages. */
  readonly text: string;
  /** What sudo runs: the command without `sudo` and its options. */
  readonly argv: readonly string[];
  /** sudo's own options as given (kept for `sudo -l`, which they affect: -u, -g). */
  readonly options: readonly string[];
  /** Whether `-n` is among them: without it a missing rule waits for a password. */
  readonly nonInteractive: boolean;
};

/** sudo options that take a value as the next word. */
const optionsWithValue = new Set(['-u', '-g', '-p', '-C', '-D', '-h', '-r', '-t', '-U', '-T']);

/**
 * The sudo invocation in a host command, `null` when it does not use sudo, or `'unreadable'` when
 * it is shell text too involved to take apart (pipes, quotes, variables).
 */
export function sudoCommand(command: HostCommand): SudoCommand | null | 'unreadable' {
  const text = typeof command === 'string' ? command : command.join(' ');
  let words: readonly string[];
  if (typeof command === 'string') {
    if (!/(^|[\s;&|(])sudo(\s|$)/.test(command)) return null;
    if (/[;&|<>$`'"\\(){}*?]/.test(command)) return 'unreadable';
    words = command.trim().split(/\s+/);
  } else {
    words = command;
  }
  if (!/(^|\/)sudo$/.test(words[0] ?? '')) return typeof command === 'string' ? 'unreadable' : null;
  const options: string[] = [];
  let index = 1;
  for (; index < words.length; index += 1) {
    const word = words[index]!;
    if (word === '--') {
      index += 1;
      break;
    }
    if (!word.startsWith('-')) break;
    options.push(word);
    if (optionsWithValue.has(word) && index + 1 < words.length) {
      index += 1;
      options.push(words[index]!);
    }
  }
  const argv = words.slice(index);
  if (argv.length === 0) return 'unreadable';
  const nonInteractive = options.some(
    (option) => option === '-n' || option === '--non-interactive' || /^-[A-Za-z]*n[A-Za-z]*$/.test(option),
  );
  return { text, argv, options, nonInteractive };
}

/** The `-u`/`-g` options of a sudo invocation, which `sudo -l` must be given too. */
export function identityOptions(command: SudoCommand): string[] {
  const kept: string[] = [];
  for (let index = 0; index < command.options.length; index += 1) {
    const option = command.options[index]!;
    if ((option === '-u' || option === '-g') && command.options[index + 1] !== undefined) kept.push(option, command.options[index + 1]!);
  }
  return kept;
}

/**
 * Full paths of programs on the host, as sudoers needs them. `/usr/sbin` and `/sbin` are searched
 * too: they are often missing from a non-root SSH user's PATH, and nginx lives there.
 */
export async function resolvePrograms(transport: Transport, programs: readonly string[]): Promise<Map<string, string>> {
  const names = [...new Set(programs)];
  const found = new Map<string, string>();
  if (names.length === 0) return found;
  const text = script(
    op('PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"; for p in'),
    ...names.map(arg),
    op('; do printf \'%s\\t%s\\n\' "$p" "$(command -v "$p" 2>/dev/null)"; done'),
  );
  const result = await transport.run({ script: text }, { timeoutMs: 15_000 });
  for (const line of result.stdout.split('\n')) {
    const [name, path] = line.split('\t');
    if (name && path?.startsWith('/')) found.set(name, path);
  }
  return found;
}

/**
 * One sudoers line granting exactly these commands without a password. Arguments are listed in
 * full, so the rule allows nothing else (a sudoers `*` would also match extra arguments).
 */
export function sudoersLine(user: string, commands: readonly (readonly string[])[], paths: ReadonlyMap<string, string>): string {
  const entries = commands.map((argv) => {
    const [program = '', ...rest] = argv;
    const full = program.startsWith('/') ? program : (paths.get(program) ?? `/usr/bin/${program}`);
    return [full, ...rest].map(escapeSudoers).join(' ');
  });
  return `${user} ALL=(root) NOPASSWD: ${[...new Set(entries)].join(', ')}`;
}

/** sudoers gives `,`, `:`, `=` and `\` meaning inside a command; a backslash makes them literal. */
function escapeSudoers(word: string): string {
  return word.replace(/[\\,:=]/g, (character) => `\\${character}`);
}

/** `nginx.test` with `-T` for `-t` (see engine/nginx.ts): through sudo it needs a sudoers entry of its own, so setup's rule lists it. */
export { dumpHostCommand };

/** Every sudo invocation a target's configuration makes, as sudo runs them (nginx's test, its -T dump, its reload). */
export function nginxSudoCommands(nginx: { readonly test: HostCommand; readonly reload: HostCommand }): SudoCommand[] {
  const found: SudoCommand[] = [];
  for (const command of [nginx.test, dumpHostCommand(nginx.test), nginx.reload]) {
    const sudo = sudoCommand(command);
    if (sudo !== null && sudo !== 'unreadable') found.push(sudo);
  }
  return found;
}
