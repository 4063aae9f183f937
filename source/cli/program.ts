import { Command, Option } from 'commander';
import type { EnvSource } from '../engine/rollback-env.js';
import type { GlobalOptions } from './options.js';
import type { Output } from './output.js';
import { packageVersion } from './version.js';

export type Action = (output: Output) => Promise<number>;
/** How a parsed command is carried out: main() runs it with an output and keeps its exit code. */
export type Runner = (options: { readonly json?: boolean; readonly color?: boolean }, action: Action) => Promise<void>;

/**
 * The command line as commander sees it: every command, argument and option. Each command's
 * module is loaded only when it runs, so `--help` and a quick `status` never pay for the Ink app,
 * the MCP SDK or ssh2 they do not use. Tests read this to check that every hint names real flags.
 */
export function createProgram(run: Runner): Command {
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
      .option('--host <name>', "one host of a fleet target (a name from the target's hosts)")
      .option('-y, --yes', 'no prompts and no terminal app: plain output, for CI')
      .option('--json', 'print one JSON document on stdout at the end; progress goes to stderr')
      .option('--verbose', 'also print server and engine log lines')
      .option('--no-color', 'no ANSI colours (NO_COLOR is honoured too)')
      .addOption(new Option('--accept-host-key <fingerprint>', 'trust this SHA256:… host key fingerprint for this run'));

  withGlobals(
    program.command('deploy', { isDefault: true }).description('validate, upload, install, cut over, prune (the default command)'),
  )
    .option('--force', 'break a stale lock (holder gone, or older than lockStaleMinutes)')
    .option('--skip-validate', 'do not run the local checks first')
    .option('--allow-breaking', 'let breaking MCP contract changes through (otherwise the deploy stops before the switch, exit 5)')
    .option('--ref <ref>', 'deploy this commit, branch or tag from a clean export of it (not the working tree)')
    .option('--require-clean', 'refuse to deploy a git tree with uncommitted changes (they would make a -dirty release)')
    .option('--verify-all', 'check the sha256 of every file of the new release on the host, not only of the files sent')
    .action((options: import('./commands/deploy-command.js').DeployOptions) =>
      run(options, async (output) => (await import('./commands/deploy-command.js')).deployCommand(options, output)),
    );

  withGlobals(program.command('validate').description('run the local checks only: syntax, ontologies, env, a real MCP handshake'))
    .option('--no-server', 'skip starting the server')
    .action((options: GlobalOptions & { server?: boolean }) =>
      run(options, async (output) => (await import('./commands/validate-command.js')).validateCommand(options, output)),
    );

  withGlobals(
    program
      .command('rollback')
      .argument('[release]', 'release id (default: the newest good one before the active)')
      .description('zero-downtime move back to an earlier release'),
  )
    .option('--force', 'break a stale lock')
    .addOption(
      new Option(
        '--env-from <source>',
        "start it with another environment than the one it ran with: the active release's, or made here",
      ).choices(['active', 'local'] satisfies readonly EnvSource[]),
    )
    .action((release: string | undefined, options: GlobalOptions) =>
      run(options, async (output) => (await import('./commands/deploy-command.js')).rollbackCommand(release, options, output)),
    );

  withGlobals(
    program
      .command('diff')
      .argument('[from]', 'a release id, "active" or "local" (default: active)')
      .argument('[to]', 'a release id, "active" or "local" (default: local, the validated local tree)')
      .description('the MCP contract diff between two releases, or the active release and the local tree'),
  ).action((from: string | undefined, to: string | undefined, options: GlobalOptions) =>
    run(options, async (output) => (await import('./commands/contract-commands.js')).diffCommand(from, to, options, output)),
  );

  withGlobals(program.command('contract').description("the local server's MCP contract as stable sorted JSON"))
    .option('--write <file>', 'write it to a file (to commit, so reviews show MCP changes)')
    .option('--check <file>', 'exit 1 when the committed file differs from the server (a CI check)')
    .action((options: import('./commands/contract-commands.js').ContractOptions) =>
      run(options, async (output) => (await import('./commands/contract-commands.js')).contractCommand(options, output)),
    );

  withGlobals(program.command('releases').description("the host's releases: active, previous, failed, age, size")).action(
    (options: GlobalOptions) =>
      run(options, async (output) => (await import('./commands/releases-command.js')).releasesCommand(options, output)),
  );

  withGlobals(program.command('status').description('active colour, release, health of both colours, lock'))
    .option('-w, --watch', 'keep sampling: the dashboard in a terminal, one line (or with --json one JSON object) per sample otherwise')
    .option('--interval <seconds>', 'with --watch: seconds between refreshes', '2')
    .option('--count <n>', 'with --watch: stop after this many refreshes')
    .action((options: GlobalOptions & { watch?: boolean; interval?: string; count?: string }) =>
      run(options, async (output) => (await import('./commands/status-command.js')).statusCommand(options, output)),
    );

  withGlobals(
    program
      .command('monitor')
      .description('judge the serving release against the monitor thresholds; notify only when that changes; exit 0 healthy, 1 not'),
  )
    .option('--once', 'one sample (the default)')
    .option('--for <duration>', 'sample for this long (90s, 5m, 1h) and judge the whole window')
    .option('--interval <duration>', 'with --for: time between samples (default: monitor.intervalSeconds)')
    .action((options: import('./commands/monitor-command.js').MonitorOptions) =>
      run(options, async (output) => (await import('./commands/monitor-command.js')).monitorCommand(options, output)),
    );

  withGlobals(program.command('logs').description("the active server's log"))
    .option('-f, --follow', 'keep following')
    .option('-n, --lines <count>', 'how many lines (default 50; with --since, every line since then)')
    .option('--nginx', "nginx's error log instead")
    .option('-r, --release <id>', "this release's server log instead (a failed one, say)")
    .option('-g, --grep <pattern>', 'only lines matching this extended regular expression (grep -E)')
    .option('--since <time>', 'only lines stamped since: 30s, 10m, 2h, 1d, or a date and time (2026-11-24T10:00Z)')
    .action((options: import('./commands/logs-command.js').LogsOptions) =>
      run(options, async (output) => (await import('./commands/logs-command.js')).logsCommand(options, output)),
    );

  withGlobals(
    program
      .command('restart')
      .description('zero-downtime restart: the active release started afresh on the other colour, through the full cutover'),
  )
    .option('--force', 'break a stale lock')
    .action((options: GlobalOptions) =>
      run(options, async (output) => (await import('./commands/restart-command.js')).restartCommand(options, output)),
    );

  withGlobals(
    program
      .command('exec')
      .argument('<command...>', 'after --: one shell command line, or a program and its arguments')
      .description("run a command on the host in the active release's folder, with its server's environment (exit code: the command's)"),
  ).action((argv: string[], options: GlobalOptions) =>
    run(options, async (output) => (await import('./commands/exec-command.js')).execCommand(argv, options, output)),
  );

  withGlobals(program.command('prune').description('remove old releases, unused venvs and leftovers now, as every deploy does at its end'))
    .option('--force', 'break a stale lock')
    .action((options: GlobalOptions) =>
      run(options, async (output) => (await import('./commands/prune-command.js')).pruneCommand(options, output)),
    );

  withGlobals(program.command('audit').description("the host's audit log: who deployed, rolled back, locked or ran what, and how it ended"))
    .option('-n, --lines <count>', 'how many of the last records', '50')
    .action((options: import('./commands/audit-command.js').AuditOptions) =>
      run(options, async (output) => (await import('./commands/audit-command.js')).auditCommand(options, output)),
    );

  const lock = program.command('lock').description('hold deploys off on purpose, with a reason (acquire -m REASON | release | status)');
  withGlobals(
    lock.command('acquire').description('take the deploy lock with a reason: every deploy, rollback, restart and prune is refused'),
  )
    .requiredOption('-m, --message <reason>', 'why: shown to whoever tries to deploy, and in the audit log')
    .action((options: GlobalOptions & { message?: string }) =>
      run(options, async (output) => (await import('./commands/lock-command.js')).lockAcquireCommand(options, output)),
    );
  withGlobals(lock.command('release').description("remove a lock taken with lock acquire (never a running deploy's)")).action(
    (options: GlobalOptions) =>
      run(options, async (output) => (await import('./commands/lock-command.js')).lockReleaseCommand(options, output)),
  );
  withGlobals(lock.command('status').description('who holds the lock, since when, and why')).action((options: GlobalOptions) =>
    run(options, async (output) => (await import('./commands/lock-command.js')).lockStatusCommand(options, output)),
  );

  withGlobals(
    program.command('config').description('the resolved config for a target: ${VAR}s filled in, defaults applied, secrets masked'),
  ).action((options: GlobalOptions) =>
    run(options, async (output) => (await import('./commands/config-command.js')).configCommand(options, output)),
  );

  withGlobals(
    program
      .command('verify-release')
      .argument('[release]', 'release id (default: the active one)')
      .description("check a release on the host against its manifest: every file's size and sha256"),
  ).action((release: string | undefined, options: GlobalOptions) =>
    run(options, async (output) => (await import('./commands/verify-release-command.js')).verifyReleaseCommand(release, options, output)),
  );

  const keys = program.command('keys').description('API keys nginx accepts at the edge (auth.apiKeys): add | list | revoke ID | rotate ID');
  withGlobals(keys.command('add').description('make a key; it is printed once, now, and never again'))
    .option('--label <text>', 'what the key is for (shown by keys list)')
    .action((options: GlobalOptions & { label?: string }) =>
      run(options, async (output) => (await import('./commands/keys-command.js')).keysAddCommand(options, output)),
    );
  withGlobals(keys.command('list').description('the keys: id, label, made, accepted until, fingerprint (never the key)')).action(
    (options: GlobalOptions) =>
      run(options, async (output) => (await import('./commands/keys-command.js')).keysListCommand(options, output)),
  );
  withGlobals(keys.command('revoke').argument('<id>', 'the key id (keys list)').description('stop accepting a key now')).action(
    (id: string, options: GlobalOptions) =>
      run(options, async (output) => (await import('./commands/keys-command.js')).keysRevokeCommand(id, options, output)),
  );
  withGlobals(
    keys
      .command('rotate')
      .argument('<id>', 'the key to replace (keys list)')
      .description('a new key now; the old one stays accepted for the overlap, then the next run drops it'),
  )
    .option('--overlap <span>', 'how long the old key stays accepted (30s, 90m, 24h, 2d)', '24h')
    .action((id: string, options: GlobalOptions & { overlap: string }) =>
      run(options, async (output) => (await import('./commands/keys-command.js')).keysRotateCommand(id, options, output)),
    );

  withGlobals(program.command('unlock').description('show the host lock; remove it with --force'))
    .option('--force', 'remove the lock')
    .action((options: GlobalOptions) =>
      run(options, async (output) => (await import('./commands/unlock-command.js')).unlockCommand(options, output)),
    );

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
    .option('--identity-file <file>', 'the private key to log in with (default: the SSH agent and ~/.ssh/id_*)')
    .option('--known-hosts <file>', "the known_hosts file with the host's key (default: ~/.ssh/known_hosts)")
    .option('--path <dir>', 'deploy root on the host, absolute (required with --yes)')
    .option('--domain <name>', 'public domain: publicUrl becomes https://<name> (required with --yes)')
    .option('-t, --target <name>', 'target name (default: production)')
    .option('--force', 'replace an existing .mcpdeployrc (and, with --ci-github, the workflow) without asking')
    .option('--ci-github', 'also write .github/workflows/mcp-deploy.yml, as mcp-deploy ci github does')
    .option('--supervisor <kind>', 'systemd (default: back after a reboot; setup installs the unit) or process (hosts without systemd)')
    .option('--no-color', 'no ANSI colours (NO_COLOR is honoured too)')
    .action((options: import('./commands/init-command.js').InitOptions) =>
      run(options, async (output) => (await import('./commands/init-command.js')).initCommand(options, output)),
    );

  withGlobals(program.command('doctor').description('check the host before a first deploy: one line per check, with the fix')).action(
    (options: GlobalOptions) =>
      run(options, async (output) => (await import('./commands/doctor-command.js')).doctorCommand(options, output)),
  );

  withGlobals(
    program
      .command('setup')
      .description('lay out the deploy root and the nginx upstream include; show the nginx site, logrotate rule and systemd unit'),
  )
    .option('--tls', 'also get a certificate for the public domain with certbot (acme in the config) and lay out the TLS include')
    .option('--monitor-timer [every]', 'also a systemd timer on the host running mcp-deploy monitor --once (30s, 5min, 1h; default 5min)')
    .action((options: GlobalOptions & { monitorTimer?: string | boolean; tls?: boolean }) =>
      run(options, async (output) => (await import('./commands/setup-command.js')).setupCommand(options, output)),
    );

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
    .option('--monitor [schedule]', 'write the scheduled monitor workflow instead (cron, UTC; default "*/15 * * * *")')
    .action((provider: string, options: import('./commands/ci-command.js').CiOptions) =>
      run(options, async (output) => (await import('./commands/ci-command.js')).ciCommand(provider, options, output)),
    );

  program
    .command('sandbox')
    .description('a local target with its own nginx on a free port, for trying mcp-deploy (up | down)')
    .argument('<action>', 'up or down')
    .option('--dir <folder>', 'where the sandbox lives', '.sandbox')
    .option('--source <folder>', 'the server folder to deploy', 'examples/ontology-server')
    .action((action: string, options: { dir?: string; source?: string }) =>
      run({}, async (output) => (await import('./commands/sandbox-command.js')).sandboxCommand(action, options, output)),
    );

  return program;
}
