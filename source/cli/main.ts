import { CommanderError } from 'commander';
import { didYouMean } from '../config/did-you-mean.js';
import { DeployError, exitCodes } from '../errors.js';
import { createOutput } from './output.js';
import { createProgram } from './program.js';

/**
 * Parses the command line and runs one command. Every command returns its exit code; an error
 * that escapes one is turned into a message (or, with --json, a JSON document) and a code in one
 * place: Output.fail.
 */
export async function main(argv: readonly string[]): Promise<number> {
  let code: number = exitCodes.ok;
  const program = createProgram(async (options, action) => {
    const output = createOutput(options);
    try {
      code = await action(output);
    } catch (error) {
      code = output.fail(error);
    }
  });
  // With --json even a usage mistake is a JSON document on stdout: commander's own text is held back.
  const json = argv.includes('--json');
  if (json)
    for (const command of [program, ...program.commands, ...program.commands.flatMap((sub) => sub.commands)])
      command.configureOutput({ writeErr: () => {} });
  const failUsage = (message: string, hint?: string) =>
    createOutput({ json }).fail(new DeployError('usage', message, hint === undefined ? {} : { hint }));
  const unknown = unknownCommand(argv, ['help', ...program.commands.flatMap((command) => [command.name(), ...command.aliases()])]);
  if (unknown !== null) return failUsage(unknown, 'mcp-deploy --help lists the commands.');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with code 0; usage mistakes with 2.
      if (error.exitCode === 0) return 0;
      return json ? failUsage(error.message.replace(/^error: /, '')) : exitCodes.usage;
    }
    return createOutput({ json }).fail(error);
  }
}

/**
 * A first word that names no command. `deploy` is the default command and takes no argument, so
 * commander would read `mcp-deploy deplyo` as `deploy deplyo` and say "too many arguments for
 * 'deploy'": the operator mistyped a command, and should hear so.
 */
function unknownCommand(argv: readonly string[], commands: readonly string[]): string | null {
  const first = argv[0];
  if (first === undefined || first.startsWith('-') || commands.includes(first)) return null;
  const guess = didYouMean(first, commands);
  return `Unknown command "${first}".${guess ? ` Did you mean "${guess}"?` : ''}`;
}
