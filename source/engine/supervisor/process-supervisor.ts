import { arg, cmd, op, script } from '../../remote/quote.js';
import { composeCommand } from '../../remote/compose.js';
import { runChecked, type Transport } from '../../remote/transport.js';
import { loadEnvScript } from '../env-file.js';
import type { HostLayout } from '../../host/layout.js';
import type { Colour } from '../colours.js';
import { describeForeign, identityFunctions, instanceVariable, newInstanceToken, parseForeign, reportForeign } from './process-identity.js';
import type { ServerSpec, StopResult, Supervisor } from './supervisor.js';

/**
 * Runs each colour as a detached process group on the host, with a pidfile under `run/` and its
 * output appended to the release's log. Nothing is signalled on the pid file's word alone: see
 * process-identity.ts. What the sandbox and the tests use, and what works on
 * any host with a POSIX shell and `setsid`.
 */
export class ProcessSupervisor implements Supervisor {
  readonly kind = 'process' as const;

  constructor(
    private readonly transport: Transport,
    private readonly layout: HostLayout,
    /** Each colour's port, which a pid file of the older format is checked against; unknown in the sandbox's `down`. */
    private readonly ports: Readonly<Record<Colour, number>> | null,
    /** Told when a pid file names a process that is not ours (it is then left alone). */
    private readonly warn?: (message: string) => void,
  ) {}

  async start(spec: ServerSpec): Promise<{ pid: number | null }> {
    const pidFile = this.layout.pidFile(spec.colour);
    const token = newInstanceToken();
    // The server line is composed like any command (cd, exported non-secret env, then the
    // script); secrets are sourced from the env file so they never sit on a command line that
    // `ps` shows to other users.
    const server = composeCommand({ script: spec.script }, { cwd: spec.releaseDir, env: spec.env });
    const text = script(
      op(identityFunctions),
      // A pid file that names a process we did not start is reported, and that process left
      // alone: the new start replaces the pid file, and nothing is signalled.
      op('\nidentify'),
      arg(pidFile),
      arg(this.layout.root),
      arg(this.#port(spec.colour)),
      op(`; [ $? -ne 2 ] || ${reportForeign}\n`),
      cmd(['mkdir', '-p', this.layout.runDir, this.layout.logsDir]),
      op('&&'),
      cmd(['cd', spec.releaseDir]),
      op(`&& { ${loadEnvScript(spec.envFiles)}; } || exit 1`),
      // setsid makes the server the leader of its own process group (the shell is not a group
      // leader here, so setsid does not fork and $! is the server's pid), so stop() can signal
      // everything it started, and closing the SSH channel cannot hang up on it. Its start time
      // is read at once: the process exists from the fork on, and the time never changes.
      op('\nsetsid sh -c'),
      arg(server),
      op('</dev/null >>'),
      arg(spec.logFile),
      op(`2>&1 &\npid=$!\nprintf '%s %s %s\\n' "$pid" "$(starttime "$pid" || echo -)" "$${instanceVariable}" >`),
      arg(`${pidFile}.tmp`),
      op('&& mv -f'),
      arg(`${pidFile}.tmp`),
      arg(pidFile),
      op('&& echo "$pid"'),
    );
    // The token marks this very start (stop()'s identity check). It is in the environment of
    // the whole script, so the server has it from its first instant, before any exec.
    const result = await runChecked(this.transport, { script: text }, `starting ${spec.colour} on port ${spec.port}`, {
      env: { [instanceVariable]: token },
    });
    const foreign = parseForeign(result.stdout);
    if (foreign !== null) this.warn?.(describeForeign(pidFile, spec.colour, foreign));
    const pid = Number.parseInt(result.stdout.trim().split('\n').pop() ?? '', 10);
    return { pid: Number.isFinite(pid) ? pid : null };
  }

  /**
   * SIGTERM to the colour's process group, SIGKILL after the grace, but only once the pid file's
   * process is proven to be the server we started (process-identity.ts); anything else is
   * reported and left alone, its pid file kept as the evidence (the next start replaces it).
   */
  async stop(colour: Colour, options: { graceMs: number }): Promise<StopResult> {
    const pidFile = this.layout.pidFile(colour);
    // Looked at every 20 ms: the drain (and so the deploy) ends as soon as the server has exited.
    const ticks = Math.max(1, Math.ceil(options.graceMs / 20));
    const text = script(
      op(identityFunctions),
      op('\nidentify'),
      arg(pidFile),
      arg(this.layout.root),
      arg(this.#port(colour)),
      op(`
case $? in
  1) rm -f`),
      arg(pidFile),
      op(`; echo none; exit 0;;
  2) ${reportForeign}; exit 0;;
esac
kill -TERM -"$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
i=0
result=stopped
while alive "$pid"; do
  i=$((i+1))
  if [ "$i" -gt ${ticks} ]; then kill -KILL -"$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null; result=killed; sleep 0.2; break; fi
  sleep 0.02
done
rm -f`),
      arg(pidFile),
      op('; echo "$result"'),
    );
    const result = await runChecked(this.transport, { script: text }, `stopping ${colour}`, { timeoutMs: options.graceMs + 30_000 });
    const foreign = parseForeign(result.stdout);
    if (foreign !== null) {
      const message = describeForeign(pidFile, colour, foreign);
      this.warn?.(message);
      return { wasRunning: false, killed: false, foreign: message };
    }
    const outcome = result.stdout.trim().split('\n').pop();
    return { wasRunning: outcome === 'stopped' || outcome === 'killed', killed: outcome === 'killed' };
  }

  async runningRelease(colour: Colour): Promise<string | null> {
    const result = await this.transport.run({ script: this.#whenAlive(colour, 'readlink "/proc/$pid/cwd"') });
    if (result.code !== 0) return null;
    const cwd = result.stdout.trim();
    const prefix = `${this.layout.releasesDir}/`;
    return cwd.startsWith(prefix) && !cwd.slice(prefix.length).includes('/') ? cwd.slice(prefix.length) : null;
  }

  mainPidScript(colour: Colour): string {
    return this.#whenAlive(colour, 'echo "$pid"');
  }

  async isRunning(colour: Colour): Promise<boolean> {
    const result = await this.transport.run({ script: this.#whenAlive(colour, 'true') });
    return result.code === 0;
  }

  /** A script that runs `then` (with $pid set) when the colour's server is alive and ours, else exits 1. */
  #whenAlive(colour: Colour, then: string): string {
    const identify = [arg(this.layout.pidFile(colour)), arg(this.layout.root), arg(this.#port(colour))];
    return script(op(`${identityFunctions}\nidentify`), ...identify, op(`|| exit 1\n${then}`));
  }

  #port(colour: Colour): string {
    return this.ports === null ? '' : String(this.ports[colour]);
  }
}
