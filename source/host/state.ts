import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { DeployError } from '../errors.js';
import { arg, op, script } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';
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

export async function writeState(transport: Transport, layout: HostLayout, state: HostState): Promise<void> {
  // Checked on the way out too: writing a state we could not read back would wedge every later run.
  const checked = hostStateSchema.parse(state);
  await transport.writeFileAtomic(layout.stateFile, `${JSON.stringify(checked, null, 2)}\n`, 0o644);
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
  if (result.code !== 0) {
    throw new DeployError(
      'host-state',
      `Could not switch ${layout.current} to ${id} on ${transport.label}: ${result.stderr.trim() || `exit ${result.code}`}.`,
      {
        hint: 'The previous link was left in place (docs/host-layout.md explains how to check and fix it).',
      },
    );
  }
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
