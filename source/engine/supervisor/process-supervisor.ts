import { arg, cmd, op, script } from '../../remote/quote.js';
import { composeCommand } from '../../remote/compose.js';
import { runChecked, type Transport } from '../../remote/transport.js';
import type { HostLayout } from '../../host/layout.js';
import type { Colour } from '../colours.js';
import type { ServerSpec, StopResult, Supervisor } from './supervisor.js';

/**
 * Runs each colour as a detached process group on the host, with a pidfile under `run/` and its
 * output appended to the release's log. What the sandbox and the tests use, and what works on
 * any host with a POSIX shell and `setsid`.
 */
export class ProcessSupervisor implements Supervisor {
  readonly kind = 'process' as const;

  constructor(
    private readonly transport: Transport,
    private readonly layout: HostLayout,
  ) {}

  async start(spec: ServerSpec): Promise<{ pid: number | null }> {
    const pidFile = this.layout.pidFile(spec.colour);
    // The server line is composed like any command (cd, exported non-secret env, then the
    // script); secrets are sourced from the env file so they never sit on a command line that
    // `ps` shows to other users.
    const server = composeCommand({ script: spec.script }, { cwd: spec.releaseDir, env: spec.env });
    const text = script(
      cmd(['mkdir', '-p', this.layout.runDir, this.layout.logsDir]),
      op('&&'),
      cmd(['cd', spec.releaseDir]),
      op('&& if [ -f'),
      arg(spec.envFile),
      op(']; then set -a; .'),
      arg(spec.envFile),
      op('; set +a; fi'),
      // setsid makes the server the leader of its own process group (the shell is not a group
      // leader here, so setsid does not fork and $! is the server's pid), so stop() can signal
      // everything it started, and closing the SSH channel cannot hang up on it.
      op('\nsetsid sh -c'),
      arg(server),
      op('</dev/null >>'),
      arg(spec.logFile),
      op('2>&1 &\npid=$!\necho "$pid" >'),
      arg(`${pidFile}.tmp`),
      op('&& mv -f'),
      arg(`${pidFile}.tmp`),
      arg(pidFile),
      op('&& echo "$pid"'),
    );
    const result = await runChecked(this.transport, { script: text }, `starting ${spec.colour} on port ${spec.port}`);
    const pid = Number.parseInt(result.stdout.trim(), 10);
    return { pid: Number.isFinite(pid) ? pid : null };
  }

  async stop(colour: Colour, options: { graceMs: number }): Promise<StopResult> {
    const pidFile = this.layout.pidFile(colour);
    const ticks = Math.max(1, Math.ceil(options.graceMs / 100));
    const text = script(
      op('pid=$(cat'),
      arg(pidFile),
      op(`2>/dev/null) || { echo none; exit 0; }
case "$pid" in ''|*[!0-9]*) echo none; exit 0;; esac
${aliveFunction}
if ! alive "$pid"; then rm -f`),
      arg(pidFile),
      op(`; echo none; exit 0; fi
kill -TERM -"$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
i=0
result=stopped
while alive "$pid"; do
  i=$((i+1))
  if [ "$i" -gt ${ticks} ]; then kill -KILL -"$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null; result=killed; sleep 0.2; break; fi
  sleep 0.1
done
rm -f`),
      arg(pidFile),
      op('; echo "$result"'),
    );
    const result = await runChecked(this.transport, { script: text }, `stopping ${colour}`, { timeoutMs: options.graceMs + 30_000 });
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

  /** A script that runs `then` (with $pid set) when the colour's server is alive, else exits 1. */
  #whenAlive(colour: Colour, then: string): string {
    return script(
      op('pid=$(cat'),
      arg(this.layout.pidFile(colour)),
      op(`2>/dev/null) || exit 1
case "$pid" in ''|*[!0-9]*) exit 1;; esac
${aliveFunction}
alive "$pid" || exit 1
${then}`),
    );
  }
}

/**
 * A process is alive when it exists and is not a zombie: on hosts (and containers) whose init
 * does not reap orphans, a stopped server lingers as a zombie that `kill -0` still finds.
 */
const aliveFunction = `alive() {
  [ -r "/proc/$1/stat" ] || { kill -0 "$1" 2>/dev/null; return; }
  state=$(sed -n 's/.*) \\(.\\).*/\\1/p' "/proc/$1/stat" 2>/dev/null)
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}`;
