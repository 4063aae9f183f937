import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { createProgram } from '../../source/cli/program.js';

/**
 * Every hint and message that tells the operator to run mcp-deploy with a flag must name a
 * command and flags the real parser knows: a hint once said "pass the right key with --identity",
 * and `--identity` exits 2 with "unknown option". The program is the one main() parses with.
 */

const root = new URL('../../', import.meta.url).pathname;
const program = createProgram(async () => {});

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : /\.tsx?$/.test(name) ? [path] : [];
  });
}

/** String and template literals, roughly: enough to find the hints, which are plain text. */
function literals(text: string): string[] {
  return [...text.matchAll(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g)].map((match) => match[0]);
}

function optionsOf(command: Command): Set<string> {
  const names = new Set<string>(['--help', '--version']);
  for (const option of [...command.options, ...program.options]) {
    if (option.long) names.add(option.long);
    if (option.short) names.add(option.short);
    // commander turns --no-color into --color's negation; both spellings are accepted.
    if (option.long?.startsWith('--no-')) names.add(`--${option.long.slice(5)}`);
  }
  return names;
}

// Subcommands (`lock acquire`) by their two words, next to the commands themselves.
const commands = new Map(
  program.commands.flatMap((command) => [
    [command.name(), command] as const,
    ...command.commands.map((sub) => [`${command.name()} ${sub.name()}`, sub] as const),
  ]),
);
const defaultCommand = commands.get('deploy')!;

/** Each `mcp-deploy <command> … --flag` in a literal, as the command it names and the flags that follow it. */
function invocations(literal: string): { command: string; flags: string[] }[] {
  const found: { command: string; flags: string[] }[] = [];
  for (const match of literal.matchAll(/mcp-deploy((?: [^\s`'",;)]+)*)/g)) {
    const words = (match[1] ?? '').trim().split(/\s+/).filter(Boolean);
    const first = words[0] !== undefined && commands.has(words[0]) ? words[0] : null;
    const sub = first !== null && words[1] !== undefined && commands.has(`${first} ${words[1]}`) ? `${first} ${words[1]}` : null;
    const named = sub ?? first;
    // "mcp-deploy runs …" is prose: an invocation starts with a command or a flag.
    if (named === null && !/^--?[a-z]/.test(words[0] ?? '')) continue;
    const flags: string[] = [];
    for (const word of named === null ? words : words.slice(named.split(' ').length)) {
      // The invocation ends where the sentence goes on: a word that is neither a flag, a value nor a subcommand word.
      if (/^--?[a-z]/.test(word)) flags.push(word.replace(/[=.,:)]+.*$/, ''));
    }
    found.push({ command: named ?? 'deploy', flags });
  }
  return found;
}

describe('hints name real commands and flags', () => {
  const files = sourceFiles(join(root, 'source'));
  const mentions = files.flatMap((file) =>
    literals(readFileSync(file, 'utf8')).flatMap((literal) =>
      invocations(literal).map((invocation) => ({ where: relative(root, file), literal, ...invocation })),
    ),
  );

  it('finds the hints to check', () => {
    // The scan itself must work: these are hints the code is known to give.
    expect(mentions.some((mention) => mention.command === 'unlock' && mention.flags.includes('--force'))).toBe(true);
    expect(mentions.some((mention) => mention.command === 'setup' && mention.flags.includes('--yes'))).toBe(true);
  });

  it('every `mcp-deploy <command> --flag` in the source is accepted by the parser', () => {
    const wrong = mentions.flatMap((mention) => {
      const command = commands.get(mention.command) ?? defaultCommand;
      const known = optionsOf(command);
      return mention.flags.filter((flag) => !known.has(flag)).map((flag) => `${mention.where}: mcp-deploy ${mention.command} … ${flag}`);
    });
    expect(wrong).toEqual([]);
  });

  it('every flag a hint tells the operator to pass exists on some command', () => {
    const allFlags = new Set(program.commands.flatMap((command) => [...optionsOf(command)]));
    const told = files.flatMap((file) =>
      literals(readFileSync(file, 'utf8'))
        .flatMap((literal) =>
          [...literal.matchAll(/\b(?:pass|with|use|add|run it with|try)\s+(--[a-z][a-z-]*)/gi)].map((match) => match[1]!),
        )
        .filter((flag) => !allFlags.has(flag))
        .map((flag) => `${relative(root, file)}: ${flag}`),
    );
    expect(told).toEqual([]);
  });
});
