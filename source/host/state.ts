import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { DeployError } from '../errors.js';
import { arg, op, script } from '../remote/quote.js';
import type { RunResult, Transport } from '../remote/transport.js';
import { assertSafeReleaseId, colours, isSafeReleaseId, type HostLayout } from './layout.js';

/**
 * state.json: which colour serves which release, and what to roll back to. It is written only
 * after a cutover has finished, through a temporary file and a rename, so a reader sees the old
 * state or the new one. A state.json we cannot read is an operator's problem to look at, never
 * something to overwrite: it may be the only record of what is live.
 */

const releaseId = z.string().refine(isSafeReleaseId, 'is not a valid release id');

export const hostStateSchema = z.object({
  version: z.literal(1),
  app: z.string().min(1),
  active: z
    .object({
      colour: z.enum(colours),
      port: z.number().int().min(1).max(65535),
      release: releaseId,
    })
    .nullable(),
  previous: releaseId.nullable(),
  updatedAt: z.string(),
});

export type HostState = z.output<typeof hostStateSchema>;

/** The state, or null when the host has none yet (nothing was ever deployed). */
export async function readState(transport: Transport, layout: HostLayout): Promise<HostState | null> {
  return parseState(await transport.readFile(layout.stateFile), transport, layout);
}

/** state.json's bytes as read (null: there is none) checked and parsed; throws when not valid. */
export function parseState(bytes: Buffer | null, transport: Transport, layout: HostLayout): HostState | null {
  if (bytes === null) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw invalidState(transport, layout, `not JSON (${(error as Error).message})`);
  }
  const parsed = hostStateSchema.safeParse(raw);
  if (!parsed.success) {
    const why = parsed.error.issues
      .slice(0, 3)
      .map((issue) => `${issue.path.join('.') || '(top level)'}: ${issue.message}`)
      .join('; ');
    throw invalidState(transport, layout, why);
  }
  return parsed.data;
}

/** Stands for the host's time in the text of a state until the host writes it in (recordActive). */
const hostTimeMark = 'mcp-deploy-host-time';

/**
 * A cutover's record, in one command: `current` is pointed at the release (as switchCurrent
 * does), then state.json is written through a temporary file and a rename, with `updatedAt` the
 * host's clock at that moment. Returns the state written. A failure to switch `current` leaves
 * state.json as it was.
 */
export async function recordActive(transport: Transport, layout: HostLayout, state: Omit<HostState, 'updatedAt'>): Promise<HostState> {
  const release = state.active?.release;
  if (release === undefined) throw new Error('recordActive needs an active release');
  assertSafeReleaseId(release);
  // Checked on the way out too: writing a state we could not read back would wedge every later run.
  const text = `${JSON.stringify(hostStateSchema.parse({ ...state, updatedAt: hostTimeMark }), null, 2)}\n`;
  const at = text.lastIndexOf(`"${hostTimeMark}"`);
  const suffix = randomBytes(6).toString('hex');
  const link = `${layout.root}/.current.tmp-${suffix}`;
  const temporary = `${layout.stateFile}.tmp-${suffix}`;
  const command = script(
    op('umask 077; [ -d'),
    arg(layout.releaseDir(release)),
    op('] || exit 3; ln -sfn --'),
    arg(`releases/${release}`),
    arg(link),
    op('&& mv -T --'),
    arg(link),
    arg(layout.current),
    op('|| { rm -f --'),
    arg(link),
    op(
      `; exit 4; }; mcpd_at=$(date -u '+%Y-%m-%dT%H:%M:%SZ'); case $mcpd_at in ????-??-??T??:??:??Z) ;; *) echo "date printed: $mcpd_at" >&2; exit 5 ;; esac; { printf '%s'`,
    ),
    arg(text.slice(0, at)),
    op(`&& printf '"%s"' "$mcpd_at" && printf '%s'`),
    arg(text.slice(at + hostTimeMark.length + 2)),
    op('; } >'),
    arg(temporary),
    op('&& chmod 644 --'),
    arg(temporary),
    op('&& mv -f --'),
    arg(temporary),
    arg(layout.stateFile),
    op('|| { rm -f --'),
    arg(temporary),
    op(`; exit 5; }; printf '%s\\n' "$mcpd_at"`),
  );
  const result = await transport.run({ script: command }, { timeoutMs: 30_000 });
  if (result.code === 3) {
    throw new DeployError(
      'host-state',
      `Cannot point current at ${release}: ${layout.releaseDir(release)} does not exist on ${transport.label}.`,
    );
  }
  if (result.code === 4) throw currentNotSwitched(transport, layout, release, result);
  if (result.code !== 0)
    throw new DeployError(
      'host-state',
      `Could not write ${layout.stateFile} on ${transport.label} (exit ${result.code}): ${result.stderr.trim()}`,
      {
        hint: 'Check the free space and the permissions under the deploy root: mcp-deploy doctor checks both.',
      },
    );
  return { ...state, updatedAt: result.stdout.trim() };
}

/**
 * Points `current` at `releases/<id>` atomically: the new link is made under a temporary name and
 * renamed over the old one (`mv -T`, one rename(2)), so `current` never dangles or disappears.
 * The target is relative, so the deploy root can be moved or mounted elsewhere.
 */
export async function switchCurrent(transport: Transport, layout: HostLayout, id: string): Promise<void> {
  assertSafeReleaseId(id);
  const temporary = `${layout.root}/.current.tmp-${randomBytes(6).toString('hex')}`;
  const text = script(
    op('[ -d'),
    arg(layout.releaseDir(id)),
    op('] || exit 3; ln -sfn --'),
    arg(`releases/${id}`),
    arg(temporary),
    op('&& mv -T --'),
    arg(temporary),
    arg(layout.current),
    op('|| { status=$?; rm -f --'),
    arg(temporary),
    op('; exit $status; }'),
  );
  const result = await transport.run({ script: text }, { timeoutMs: 30_000 });
  if (result.code === 3) {
    throw new DeployError('host-state', `Cannot point current at ${id}: ${layout.releaseDir(id)} does not exist on ${transport.label}.`);
  }
  if (result.code !== 0) throw currentNotSwitched(transport, layout, id, result);
}

function currentNotSwitched(transport: Transport, layout: HostLayout, id: string, result: RunResult): DeployError {
  return new DeployError(
    'host-state',
    `Could not switch ${layout.current} to ${id} on ${transport.label}: ${result.stderr.trim() || `exit ${result.code}`}.`,
    {
      hint: 'The previous link was left in place (docs/host-layout.md explains how to check and fix it).',
    },
  );
}

/**
 * Where `current` points: the release id when it is `releases/<id>` (relative or absolute), the
 * raw link text otherwise, or null when there is no link.
 */
export async function readCurrent(transport: Transport, layout: HostLayout): Promise<{ link: string; release: string | null } | null> {
  const text = script(op('[ -L'), arg(layout.current), op('] || exit 0; readlink --'), arg(layout.current));
  const result = await transport.run({ script: text }, { timeoutMs: 30_000 });
  if (result.code !== 0) {
    throw new DeployError(
      'host-state',
      `Could not read ${layout.current} on ${transport.label}: ${result.stderr.trim() || `exit ${result.code}`}.`,
    );
  }
  const link = result.stdout.replace(/\n$/, '');
  if (link === '') return null;
  const match = /^(?:.*\/)?releases\/([^/]+)\/?$/.exec(link);
  const release = match?.[1] !== undefined && isSafeReleaseId(match[1]) ? match[1] : null;
  return { link, release };
}

function invalidState(transport: Transport, layout: HostLayout, why: string): DeployError {
  return new DeployError(
    'host-state',
    `state.json on ${transport.label} is not valid: ${why}. It was left as it is; fix or remove it by hand (docs/host-layout.md)`,
    { hint: `The file is ${layout.stateFile}.` },
  );
}
