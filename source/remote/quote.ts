/**
 * The one place where argument arrays become shell text.
 *
 * Every command that runs on a host (over SSH the remote login shell parses it; locally `sh -c`
 * does) is built as an argument array and turned into text here, so no user value is ever
 * concatenated into a command line. Single quotes make every byte literal in POSIX sh except the
 * single quote itself, which we close, escape and reopen.
 */

const safeWord = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function quote(argument: string): string {
  if (argument === '') return "''";
  if (safeWord.test(argument)) return argument;
  return `'${argument.replaceAll("'", `'\\''`)}'`;
}

/** A simple command: each argument quoted, joined by spaces. */
export function command(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('command() needs at least the program name');
  return argv.map(quote).join(' ');
}

/**
 * A shell script fragment built from parts that are either already-quoted script text (made
 * with `command`, or a fixed operator from this codebase) or arguments to quote.
 */
export type ScriptPart = { readonly script: string } | { readonly arg: string };

export const op = (script: string): ScriptPart => ({ script });
export const arg = (value: string): ScriptPart => ({ arg: value });
export const cmd = (argv: readonly string[]): ScriptPart => ({ script: command(argv) });

export function script(...parts: readonly ScriptPart[]): string {
  return parts.map((part) => ('script' in part ? part.script : quote(part.arg))).join(' ');
}

/** Commands joined so that the first failure stops the rest. */
export function allOf(...commands: readonly (readonly string[])[]): string {
  return commands.map(command).join(' && ');
}
