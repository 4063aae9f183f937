import { spawn } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { closeSync, openSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { childPids, commandName } from './processes.js';
import { execChecked, isExecutable, isRoot, lookupAccount, type Account } from './system.js';
import { portAccepts, stopPid, waitFor } from './wait.js';

/**
 * A real OpenSSH sshd on 127.0.0.1, private to one test file: its own host key, config, client
 * key pair and known_hosts, all in a fresh temp dir. Tests talk to it exactly as mcp-deploy
 * talks to a production host.
 */

export const sshdBinary = '/usr/sbin/sshd';
/**
 * The dedicated logins for tests when we are root, so tests never log in as root. Real hosts
 * give the deploy user a bash login shell (the guide's own useradd), so that is the default;
 * `/bin/sh` (dash on Debian, useradd's default) is the other shell a host may give it.
 */
export const testUsers = { bash: 'mcpdeploy-bash', sh: 'mcpdeploy' } as const;
export type LoginShell = keyof typeof testUsers;
export const testUser = testUsers.bash;
const shellPaths: Record<LoginShell, string> = { bash: '/bin/bash', sh: '/bin/sh' };

export type SshdHandle = {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly user: string;
  readonly uid: number;
  readonly gid: number;
  /** Private key the server accepts (its .pub is in authorized_keys). */
  readonly identityFile: string;
  /** Lists `[127.0.0.1]:<port>` with the server's host key. */
  readonly knownHostsFile: string;
  /** `SHA256:…`, as `ssh-keygen -l` prints it. */
  readonly hostKeyFingerprint: string;
  /** The host key as a known_hosts key field: `ssh-ed25519 AAAA…`. */
  readonly hostPublicKey: string;
  /** Where the server's authorized keys live, for tests that add keys. */
  readonly authorizedKeysFile: string;
  readonly homeDir: string;
  /** Owned by `user`: a place to deploy into. */
  readonly workDir: string;
  /** The harness's temp dir (config, keys, log); removed by stop(). */
  readonly dir: string;
  /** sshd's own log (-e), for debugging a failing test. */
  readonly logFile: string;
  /** The listening sshd. */
  readonly pid: number;
  /** Ends every session and the listener, then removes the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILLs the per-connection sshd processes, cutting every open connection (user commands are left running); returns their PIDs. */
  killSessions(): number[];
  /** The `ssh` client arguments (before the remote command) that log in to this server. */
  sshArgs(): string[];
};

/**
 * Why SSH tests must be skipped on this machine, or undefined when they can run. In CI we never
 * skip: a missing sshd must fail the run, not quietly skip the tests that need it.
 */
/** What connectSsh needs to log in to this server as its user, with no agent. */
export function connectOptionsFor(sshd: SshdHandle) {
  return {
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    identityFile: sshd.identityFile,
    knownHostsFile: sshd.knownHostsFile,
    agent: false as const,
  };
}

export async function sshdSkipReason(): Promise<string | undefined> {
  if (process.env.CI) return undefined;
  for (const binary of [sshdBinary, '/usr/bin/ssh-keygen', '/usr/bin/ssh']) {
    if (!isExecutable(binary)) return `${binary} is not installed (apt-get install openssh-server openssh-client)`;
  }
  if (isRoot()) return undefined;
  // Not root: sshd can still run, but only for our own login, and some systems forbid it. Try.
  try {
    const probe = await startSshd();
    await probe.stop();
    return undefined;
  } catch (error) {
    return `sshd cannot run as non-root user ${userInfo().username} here: ${(error as Error).message}`;
  }
}

export type SshdOptions = {
  readonly login?: LoginShell;
  /**
   * `rsa-sha1-only`: an RSA host key that the server signs only with ssh-rsa (SHA-1), as an old
   * sshd does; the default is an ed25519 host key.
   */
  readonly hostKey?: 'ed25519' | 'rsa-sha1-only';
  /** sshd's MaxSessions (sessions per connection); its default is 10. */
  readonly maxSessions?: number;
};

export async function startSshd(options: SshdOptions = {}): Promise<SshdHandle> {
  const login = options.login ?? 'bash';
  const account = isRoot() ? await ensureUser(testUsers[login], shellPaths[login]) : currentAccount();
  const dir = await mkdtemp(join(tmpdir(), 'mcpd-sshd-'));
  // sshd reads authorized_keys with the user's privileges: the user must be able to reach it.
  await chmod(dir, 0o755);
  try {
    return await startIn(dir, account, options);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function startIn(dir: string, account: Account, options: SshdOptions): Promise<SshdHandle> {
  const rsa = options.hostKey === 'rsa-sha1-only';
  const hostKey = join(dir, rsa ? 'ssh_host_rsa_key' : 'ssh_host_ed25519_key');
  const identityFile = join(dir, 'client_ed25519');
  const authorizedKeysFile = join(dir, 'authorized_keys');
  const knownHostsFile = join(dir, 'known_hosts');
  const configFile = join(dir, 'sshd_config');
  const logFile = join(dir, 'sshd.log');
  const pidFile = join(dir, 'sshd.pid');
  const workDir = join(dir, 'work');

  await execChecked('ssh-keygen', [
    '-q',
    ...(rsa ? ['-t', 'rsa', '-b', '2048'] : ['-t', 'ed25519']),
    '-N',
    '',
    '-C',
    'mcp-deploy harness host',
    '-f',
    hostKey,
  ]);
  await execChecked('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'mcp-deploy harness client', '-f', identityFile]);
  await writeFile(authorizedKeysFile, await readFile(`${identityFile}.pub`), { mode: 0o644 });
  await chmod(authorizedKeysFile, 0o644);
  await mkdir(workDir, { mode: 0o755 });
  if (isRoot()) await chown(workDir, account.uid, account.gid);

  const [keyType, keyBase64] = (await readFile(`${hostKey}.pub`, 'utf8')).trim().split(/\s+/);
  if (keyType === undefined || keyBase64 === undefined) throw new Error(`unreadable host key ${hostKey}.pub`);
  const hostPublicKey = `${keyType} ${keyBase64}`;
  const hostKeyFingerprint = parseFingerprint(await execChecked('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`]));

  if (isRoot()) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  const port = await freePort();
  await writeFile(knownHostsFile, `[127.0.0.1]:${port} ${hostPublicKey}\n`);
  await writeFile(
    configFile,
    [
      'ListenAddress 127.0.0.1',
      `Port ${port}`,
      `HostKey ${hostKey}`,
      ...(rsa ? ['HostKeyAlgorithms ssh-rsa'] : []),
      `PidFile ${pidFile}`,
      `AuthorizedKeysFile ${authorizedKeysFile}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin no',
      'PrintMotd no',
      'Subsystem sftp internal-sftp',
      'LogLevel VERBOSE',
      ...(options.maxSessions === undefined ? [] : [`MaxSessions ${options.maxSessions}`]),
      `AllowUsers ${account.name}`,
      '',
    ].join('\n'),
  );
  await execChecked(sshdBinary, ['-t', '-f', configFile]);

  const log = openSync(logFile, 'a');
  // -D: stay in the foreground as our child; -e: log to stderr, which goes to the log file.
  const child = spawn(sshdBinary, ['-D', '-e', '-f', configFile], { stdio: ['ignore', log, log] });
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${sshdBinary}`);
  child.on('error', () => {
    // reported through the exit check below
  });
  const killOnExit = () => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', killOnExit);

  const state = await waitFor(
    `sshd to listen on 127.0.0.1:${port}`,
    async () => {
      if (child.exitCode !== null || child.signalCode !== null) return 'exited' as const;
      return (await portAccepts(port)) && ('listening' as const);
    },
    { timeoutMs: 15_000 },
  ).catch(() => 'timeout' as const);
  if (state !== 'listening') {
    killOnExit();
    process.removeListener('exit', killOnExit);
    const logText = await readFile(logFile, 'utf8').catch(() => '');
    throw new Error(`sshd did not start (${state}); its log:\n${logText.trim()}`);
  }

  let stopped: Promise<void> | undefined;
  // Each connection has a privileged sshd child of the listener and an unprivileged sshd below
  // it that holds the socket: both must die for the client to see the connection drop. The
  // user's own commands are left alone, as they would be when a network cable is pulled.
  const killSessions = () => {
    const sessions = childPids(pid).flatMap((child) => [child, ...sshdDescendants(child)]);
    for (const session of sessions) {
      try {
        process.kill(session, 'SIGKILL');
      } catch {
        // ended on its own
      }
    }
    return sessions;
  };

  return {
    host: '127.0.0.1',
    port,
    user: account.name,
    uid: account.uid,
    gid: account.gid,
    identityFile,
    knownHostsFile,
    hostKeyFingerprint,
    hostPublicKey,
    authorizedKeysFile,
    homeDir: account.home,
    workDir,
    dir,
    logFile,
    pid,
    killSessions,
    sshArgs: () => [
      '-i',
      identityFile,
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      `UserKnownHostsFile=${knownHostsFile}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'BatchMode=yes',
      '-F',
      '/dev/null',
      '-p',
      String(port),
      `${account.name}@127.0.0.1`,
    ],
    stop: () => {
      stopped ??= (async () => {
        // The listener's exit does not end open sessions: end them first.
        killSessions();
        await stopPid(pid, 'SIGTERM');
        process.removeListener('exit', killOnExit);
        await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

function sshdDescendants(parent: number): number[] {
  return childPids(parent)
    .filter((child) => commandName(child) === 'sshd')
    .flatMap((child) => [child, ...sshdDescendants(child)]);
}

function parseFingerprint(keygenOutput: string): string {
  const match = /SHA256:[A-Za-z0-9+/]+/.exec(keygenOutput);
  if (match === null) throw new Error(`no SHA256 fingerprint in ssh-keygen output: ${keygenOutput}`);
  return match[0];
}

function currentAccount(): Account {
  const info = userInfo();
  return { name: info.username, uid: info.uid, gid: info.gid, home: info.homedir, shell: info.shell ?? '/bin/sh' };
}

/**
 * A dedicated test login (normally `testUser`), created when missing. Its password field must be '*' (no password)
 * rather than '!' (locked): with UsePAM no, sshd refuses even key logins to locked accounts.
 */
export async function ensureUser(name: string, shell: string): Promise<Account> {
  // Test files run in parallel, and concurrent useradds can overwrite each other's passwd entry
  // (each with its own UID): check and create under one machine-wide lock.
  await execChecked('flock', [
    '--timeout',
    '30',
    '/run/mcp-deploy-test-useradd.lock',
    'sh',
    '-c',
    // A group left behind by a user whose passwd entry was lost (an older harness without this
    // lock racing) makes a plain useradd fail: join that group instead.
    'group=; getent group "$1" >/dev/null && group="-g $1"; ' +
      'getent passwd "$1" >/dev/null || useradd --create-home --shell "$2" --password "*" $group "$1"; ' +
      '[ "$(getent passwd "$1" | cut -d: -f7)" = "$2" ] || usermod --shell "$2" "$1"',
    'sh',
    name,
    shell,
  ]);
  const account = await lookupAccount(name);
  if (account === undefined) throw new Error(`user ${name} missing after useradd`);
  if (await isLocked(name)) await execChecked('usermod', ['--password', '*', name]);
  return account;
}

async function isLocked(name: string): Promise<boolean> {
  const shadow = await readFile('/etc/shadow', 'utf8').catch(() => '');
  const entry = shadow.split('\n').find((line) => line.startsWith(`${name}:`));
  return entry?.split(':')[1]?.startsWith('!') ?? false;
}
