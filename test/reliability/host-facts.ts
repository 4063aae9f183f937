import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidsWithCommandLine } from '../harness/index.js';
import { processRunning, type World } from '../e2e/world.js';

/**
 * What a world's host looks like right now, read straight from its files and processes (the
 * tests run on the same machine as the "host", as root, so no transport is needed): what
 * state.json says, where `current` and the nginx include point, which colours run, what nginx
 * really serves, what is in releases/, and whether a lock is left.
 */

export type Colour = 'blue' | 'green';

export type HostFacts = {
  /** state.json's active release and colour; 'missing' or 'invalid' when unreadable. */
  readonly state: { readonly colour: Colour; readonly release: string; readonly previous: string | null } | null | 'missing' | 'invalid';
  readonly current: string | null;
  readonly nginxPort: number | null;
  readonly nginxColour: Colour | null;
  readonly running: Readonly<Record<Colour, boolean>>;
  /** The release /health reports through nginx, or the error. */
  readonly serving: { readonly release: string } | { readonly error: string };
  readonly releases: readonly string[];
  readonly partials: readonly string[];
  readonly lock: boolean;
};

export async function hostFacts(world: World): Promise<HostFacts> {
  const root = world.hostRoot;
  let state: HostFacts['state'] = 'missing';
  const stateFile = join(root, 'state.json');
  if (existsSync(stateFile)) {
    try {
      const parsed = JSON.parse(readFileSync(stateFile, 'utf8')) as {
        active: { colour: Colour; release: string } | null;
        previous: string | null;
      };
      state = parsed.active === null ? null : { colour: parsed.active.colour, release: parsed.active.release, previous: parsed.previous };
    } catch {
      state = 'invalid';
    }
  }
  let current: string | null = null;
  try {
    current = readlinkSync(join(root, 'current')).replace(/^releases\//, '');
  } catch {
    current = null;
  }
  const upstream = existsSync(world.nginx.upstreamFile) ? readFileSync(world.nginx.upstreamFile, 'utf8') : '';
  const portMatch = /server\s+127\.0\.0\.1:(\d+)/.exec(upstream);
  const nginxPort = portMatch ? Number(portMatch[1]) : null;
  const nginxColour = nginxPort === world.ports.blue ? 'blue' : nginxPort === world.ports.green ? 'green' : null;
  const running = { blue: colourRunning(root, 'blue'), green: colourRunning(root, 'green') };
  let serving: HostFacts['serving'];
  try {
    const response = await fetch(`${world.publicUrl}/health`, { signal: AbortSignal.timeout(5_000), headers: { connection: 'close' } });
    const body = (await response.json().catch(() => ({}))) as { release?: string };
    serving =
      response.status === 200 && typeof body.release === 'string' ? { release: body.release } : { error: `HTTP ${response.status}` };
  } catch (error) {
    serving = { error: (error as Error).message };
  }
  const releasesDir = join(root, 'releases');
  const names = existsSync(releasesDir) ? readdirSync(releasesDir) : [];
  return {
    state,
    current,
    nginxPort,
    nginxColour,
    running,
    serving,
    releases: names.filter((name) => !name.startsWith('.')).sort(),
    partials: names.filter((name) => name.endsWith('.partial')),
    lock: existsSync(join(root, 'deploy.lock')),
  };
}

export function colourPid(root: string, colour: Colour): number | null {
  const file = join(root, 'run', `${colour}.pid`);
  if (!existsSync(file)) return null;
  const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
  return Number.isInteger(pid) && pid > 1 ? pid : null;
}

function colourRunning(root: string, colour: Colour): boolean {
  const pid = colourPid(root, colour);
  return pid !== null && processRunning(pid);
}

/**
 * How the host's records relate to what runs:
 * - `consistent`: nginx, state.json and `current` name the same colour and release, that colour
 *   runs, and nginx serves that release;
 * - `nginx-ahead`: nginx serves a colour that state.json does not record (a run was cut off
 *   between the switch and the state write; `status` must say so and the next run repair it);
 * - anything else is described in words and is a failure.
 */
export function judge(facts: HostFacts): { verdict: 'consistent' | 'nginx-ahead' | 'broken'; detail: string } {
  const { state } = facts;
  if (state === 'missing' || state === 'invalid' || state === null)
    return { verdict: 'broken', detail: `state.json ${state ?? 'has no active release'}` };
  const served = 'release' in facts.serving ? facts.serving.release : null;
  if (served === null)
    return { verdict: 'broken', detail: `nothing serves through nginx (${'error' in facts.serving ? facts.serving.error : ''})` };
  if (facts.nginxColour === null) return { verdict: 'broken', detail: `nginx points at port ${facts.nginxPort}, no colour` };
  if (!facts.running[facts.nginxColour]) return { verdict: 'broken', detail: `nginx points at ${facts.nginxColour}, which is not running` };
  if (facts.nginxColour === state.colour) {
    if (served !== state.release) return { verdict: 'broken', detail: `state.json says ${state.release} but nginx serves ${served}` };
    if (facts.current !== state.release)
      return { verdict: 'broken', detail: `current -> ${facts.current} but state.json says ${state.release}` };
    return { verdict: 'consistent', detail: `${state.colour} serves ${state.release}` };
  }
  if (!facts.running[state.colour])
    return { verdict: 'broken', detail: `state.json's ${state.colour} is not running and nginx serves ${facts.nginxColour}` };
  return {
    verdict: 'nginx-ahead',
    detail: `nginx serves ${served} on ${facts.nginxColour}; state.json still records ${state.release} on ${state.colour}`,
  };
}

/**
 * A snapshot of every path under a root with its type, size, mode, mtime and link target (server
 * logs by name only): "nothing changed" is an equality of two.
 */
export function treeSnapshot(root: string): string[] {
  const out: string[] = [];
  // Names as bytes (shown as latin1): a release may hold names that are not UTF-8.
  const walk = (dir: Buffer, prefix: string) => {
    for (const name of readdirSync(dir, { encoding: 'buffer' }).sort(Buffer.compare)) {
      const path = Buffer.concat([dir, Buffer.from('/'), name]);
      const info = lstatSync(path);
      const rel = `${prefix}${name.toString('latin1')}`;
      if (info.isSymbolicLink()) out.push(`${rel} -> ${readlinkSync(path, { encoding: 'buffer' }).toString('latin1')}`);
      else if (info.isDirectory()) {
        out.push(`${rel}/ ${(info.mode & 0o7777).toString(8)}`);
        walk(path, `${rel}/`);
      } else if (rel.startsWith('shared/logs/')) {
        // Written by the running servers whenever they like: only the name counts.
        out.push(`${rel} (server log)`);
      } else out.push(`${rel} ${info.size} ${(info.mode & 0o7777).toString(8)} ${info.mtimeMs}`);
    }
  };
  if (existsSync(root)) walk(Buffer.from(root), '');
  return out;
}

/**
 * Ends processes that runs of the CLI left behind under this world's folders after being
 * SIGKILLed (a `tail -f` of a server log, say): found by a world path in their command line,
 * which only processes this test file started can have. Colour servers are left to world.stop().
 */
export function killStrays(world: World, keep: readonly number[] = []): number[] {
  const colourGroups = new Set(
    (['blue', 'green'] as const).map((colour) => colourPid(world.hostRoot, colour)).filter((pid): pid is number => pid !== null),
  );
  const killed: number[] = [];
  for (const pid of pidsWithCommandLine(world.hostRoot)) {
    if (keep.includes(pid) || colourGroups.has(pid) || pid === process.pid) continue;
    // A colour server's children share its process group: leave those alone too.
    if (colourGroups.has(processGroupOf(pid) ?? -1)) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      // gone already
    }
  }
  return killed;
}

function processGroupOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[2]);
  } catch {
    return null;
  }
}

/** A config file the CLI can use for this world (local or SSH), with overrides. */
export function cliConfigFile(
  world: World,
  name: string,
  overrides: Record<string, unknown> = {},
  targetOverrides: Record<string, unknown> = {},
): string {
  const file = join(world.project, '..', `${name}.mcpdeployrc.json`);
  writeFileSync(file, JSON.stringify(world.rawConfig({ drainSeconds: 0.2, ...overrides }, targetOverrides), null, 2));
  return file;
}
