import { Command, CommanderError, Option } from 'commander';
import { deployCommand, rollbackCommand } from './commands/deploy-command.js';
import { releasesCommand, statusCommand, unlockCommand, type StatusWatchOptions } from './commands/inspect-commands.js';
import { logsCommand } from './commands/logs-command.js';
import { validateCommand } from './commands/validate-command.js';
import { sandboxCommand } from './commands/sandbox-command.js';
import { doctorCommand } from './commands/doctor-command.js';
import { setupCommand } from './commands/setup-command.js';
import { ciCommand, type CiOptions } from './commands/ci-command.js';
import { contractCommand, diffCommand, type ContractOptions } from './commands/contract-commands.js';
import { initCommand, type InitOptions } from './commands/init-command.js';
import { reportFatal } from './exit.js';
import type { GlobalOptions } from './options.js';
import { wantsColor } from './terminal.js';
import { exitCodes } from '../errors.js';
import { packageVersion } from './version.js';

/**
 * Parses the command line and runs one command. Every command returns its exit code; errors that
 * escape one are turned into a message and a code in exactly one place (reportFatal).
 */
export async function main(argv: readonly string[]): Promise<number> {
  let code: number = exitCodes.ok;
  const program = new Command('mcp-deploy')
    .description('Zero-downtime blue/green deploys of MCP servers over SSH.')
    .version(packageVersion())
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) })
    .showSuggestionAfterError(true);

  const withGlobals = (command: Command) =>
    command
      .option('-c, --config <file>', 'config file (default: .mcpdeployrc or .mcpdeployrc.json here)')
      .option('-t, --target <name>', 'target to use (default: the one marked default, or the only one)')
      .option('-y, --yes', 'no prompts and no terminal app: plain output, for CI')
      .option('--json', 'print one JSON document on stdout at the end; progress goes to stderr')
      .option('--verbose', 'also print server and engine log lines')
      .option('--no-color', 'no ANSI colours (NO_COLOR is honoured too)')
      .addOption(new Option('--accept-host-key <fingerprint>', 'trust this SHA256:… host key fingerprint for this run'));

  const run = (body: () => Promise<number>) => async () => {
    code = await body();
  };

  withGlobals(
    program.command('deploy', { isDefault: true }).description('validate, upload, install, cut over, prune (the default command)'),
  )
    .option('--force', 'break a stale lock (holder gone, or older than lockStaleMinutes)')
    .option('--skip-validate', 'do not run the local checks first')
    .option('--allow-breaking', 'let breaking MCP contract changes through (otherwise the deploy stops before the switch, exit 5)')
    .action(async (options: GlobalOptions & { skipValidate?: boolean; allowBreaking?: boolean }) => run(() => deployCommand(options))());

  withGlobals(program.command('validate').description('run the local checks only: syntax, ontologies, env, a real MCP handshake'))
    .option('--no-server', 'skip starting the server')
    .action(async (options: GlobalOptions & { server?: boolean }) => run(() => validateCommand(options))());

  withGlobals(
    program
      .command('rollback')
      .argument('[release]', 'release id (default: the newest good one before the active)')
      .description('zero-downtime move back to an earlier release'),
  )
    .option('--force', 'break a stale lock')
    .action(async (release: string | undefined, options: GlobalOptions) => run(() => rollbackCommand(release, options))());

  withGlobals(program.command('releases').description("the host's releases: active, previous, failed, age, size")).action(
    async (options: GlobalOptions) => run(() => releasesCommand(options))(),
  );

  withGlobals(
    program
      .command('diff')
      .argument('[from]', 'a release id, "active" or "local" (default: active)')
      .argument('[to]', 'a release id, "active" or "local" (default: local, the validated local tree)')
      .description('the MCP contract diff between two releases, or the active release and the local tree'),
  ).action(async (from: string | undefined, to: string | undefined, options: GlobalOptions) => run(() => diffCommand(from, to, options))());

  withGlobals(program.command('contract').description("the local server's MCP contract as stable sorted JSON"))
    .option('--write <file>', 'write it to a file (to commit, so reviews show MCP changes)')
    .option('--check <file>', 'exit 1 when the committed file differs from the server (a CI check)')
    .action(async (options: ContractOptions) => run(() => contractCommand(options))());

  withGlobals(program.command('status').description('active colour, release, health of both colours, lock'))
    .option('-w, --watch', 'refresh: MCP latency, CPU and memory of each colour, nginx 5xx rate')
    .option('--interval <seconds>', 'with --watch: seconds between refreshes', '2')
    .option('--count <n>', 'with --watch: stop after this many refreshes')
    .action(async (options: GlobalOptions & StatusWatchOptions) => run(() => statusCommand(options))());

  withGlobals(program.command('logs').description("the active server's log"))
    .option('-f, --follow', 'keep following')
    .option('-n, --lines <count>', 'how many lines', '50')
    .option('--nginx', "nginx's error log instead")
    .action(async (options: GlobalOptions & { follow?: boolean; lines?: string; nginx?: boolean }) => run(() => logsCommand(options))());

  withGlobals(program.command('unlock').description('show the host lock; remove it with --force'))
    .option('--force', 'remove the lock')
    .action(async (options: GlobalOptions) => run(() => unlockCommand(options))());

  program
    .command('init')
    .description('write .mcpdeployrc for this repository: asks in a terminal; with --yes takes the detected values and flags')
    .option('-y, --yes', 'no questions: detected values and flags (missing required flags exit 2)')
    .option('--app <name>', 'app name (default: from the server folder or the repository)')
    .option('--source <dir>', 'folder to ship, relative to here (default: the detected server folder)')
    .option('--entry <file>', 'server script, relative to the source folder (default: detected)')
    .option('--host <host>', 'SSH host (required with --yes)')
    .option('--user <user>', 'SSH user (default: deploy)')
    .option('--port <n>', 'SSH port (default: 22)')
    .option('--path <dir>', 'deploy root on the host, absolute (required with --yes)')
    .option('--domain <name>', 'public domain: publicUrl becomes https://<name> (required with --yes)')
    .option('-t, --target <name>', 'target name (default: production)')
    .option('--force', 'replace an existing .mcpdeployrc (and, with --ci-github, the workflow) without asking')
    .option('--ci-github', 'also write .github/workflows/mcp-deploy.yml, as mcp-deploy ci github does')
    .option('--no-color', 'no ANSI colours (NO_COLOR is honoured too)')
    .action(async (options: InitOptions) => run(() => initCommand(options))());

  withGlobals(program.command('doctor').description('check the host before a first deploy: one line per check, with the fix')).action(
    async (options: GlobalOptions) => run(() => doctorCommand(options))(),
  );

  withGlobals(
    program
      .command('setup')
      .description('lay out the deploy root and the nginx upstream include; show the nginx site, logrotate rule and systemd unit'),
  ).action(async (options: GlobalOptions) => run(() => setupCommand(options))());

  withGlobals(
    program
      .command('ci')
      .argument('<provider>', 'github')
      .description('write a CI workflow: deploy on push and v* tags, deploy or roll back by hand'),
  )
    .option('--force', 'replace an existing workflow')
    .option('--print', 'print the workflow instead of writing it')
    .option('--branch <name>', 'the branch whose pushes deploy', 'main')
    .option('--contract-check <file>', 'add a pull-request job that fails when this committed MCP contract is stale')
    .action(async (provider: string, options: CiOptions) => run(() => ciCommand(provider, options))());

  program
    .command('sandbox')
    .description('a local target with its own nginx on a free port, for trying mcp-deploy (up | down)')
    .argument('<action>', 'up or down')
    .option('--dir <folder>', 'where the sandbox lives', '.sandbox')
    .option('--source <folder>', 'the server folder to deploy', 'examples/ontology-server')
    .action(async (action: string, options: { dir?: string; source?: string }) => run(() => sandboxCommand(action, options))());

  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with code 0; usage mistakes with 2.
      return error.exitCode === 0 ? 0 : exitCodes.usage;
    }
    return reportFatal(error, (text) => process.stderr.write(text), wantsColor(process.stderr));
  }
}
