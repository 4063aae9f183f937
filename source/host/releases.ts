import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { type Contract, parseContract, stableJson } from '../contract/contract.js';
import { DeployError } from '../errors.js';
import { writeFileAtomicCommand } from '../remote/file-commands.js';
import { arg, op, script } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';
import { hostTimeFromEpoch, parseEpoch } from './host-clock.js';
import { assertSafeReleaseId, isSafeReleaseId, metaDirName, type HostLayout } from './layout.js';

/**
 * The releases on a host, read from the host itself: what `releases`, `status`, rollback and
 * prune all look at. A release dir is complete by construction (uploads happen in a `.partial`
 * dir that is renamed into place), so everything here may assume it.
 */

/** `.mcp-deploy/release.json`, written by the engine when the upload is complete. */
export const releaseMetaSchema = z.looseObject({
  id: z.string(),
  /** Host clock, ISO. */
  createdAt: z.string(),
  gitSha: z.string().nullable(),
  operator: z.string(),
  requirementsHash: z.string().nullable(),
  /** The install the release used (runtime/install-record.ts); absent in releases made before it was recorded. */
  install: z.unknown().optional(),
  files: z.number().int().nonnegative(),
  bytes: z.number().nonnegative(),
});
export type ReleaseMeta = z.output<typeof releaseMetaSchema>;

export const failedInfoSchema = z.object({ at: z.string(), step: z.string(), message: z.string() });
export type FailedInfo = z.output<typeof failedInfoSchema>;

const toolsSchema = z.array(z.string());

export type Release = {
  readonly id: string;
  readonly createdAt: string | null;
  readonly gitSha: string | null;
  readonly operator: string | null;
  readonly requirementsHash: string | null;
  /** The `shared/deps/<hash>` folder the release links to, if any. */
  readonly depsHash: string | null;
  /** release.json's `install` record, unparsed: runtime/install-record.ts reads it. */
  readonly install: unknown;
  readonly files: number | null;
  readonly bytes: number | null;
  /** Disk use of the dir (`du -sk`), counting files hard-linked with other releases in full. */
  readonly sizeBytes: number | null;
  /** Present means the release failed; it is kept for debugging and never a default rollback target. */
  readonly failed: FailedInfo | null;
  /** MCP tools it served, recorded after its health checks passed (contract.json, or tools.json from older versions). */
  readonly tools: readonly string[] | null;
  /** Its MCP contract (contract.json), read through the SDK after its health checks passed; null for older releases. */
  readonly contract: Contract | null;
  /** 'missing': a dir laid out by hand; 'invalid': release.json exists but could not be read. */
  readonly metadata: 'ok' | 'missing' | 'invalid';
  /** What could not be read, in words, for `releases` and `status` to show. */
  readonly problems: readonly string[];
};

const metaFiles = ['release.json', 'failed.json', 'tools.json', 'contract.json'] as const;

/**
 * Every release on the host, newest first, in one remote command. A sh loop prints each release's
 * name, its three metadata files and its size, each part after a random boundary line, so no
 * content (quotes, newlines, odd bytes) can be taken for framing.
 *
 * Dot-named dirs (uploads in progress, prunes in progress) are not releases. Nor are names outside
 * the release id alphabet (layout.ts): they cannot be named on the command line or safely built
 * into paths, so they are left alone, neither listed nor pruned.
 */
export async function listReleases(transport: Transport, layout: HostLayout): Promise<Release[]> {
  const boundary = `--mcp-deploy-${randomBytes(12).toString('hex')}`;
  const text = script(
    // script() joins parts with spaces, so the boundary arrives as a positional parameter.
    op('set --'),
    arg(boundary),
    op('; b=$1; cd --'),
    arg(layout.releasesDir),
    op('2>/dev/null || exit 0; for d in *; do'),
    op(`case $d in *[!A-Za-z0-9._-]*) continue ;; esac;`),
    op('[ -d "$d" ] && [ ! -L "$d" ] || continue;'),
    op(`printf '\\n%s id\\n%s' "$b" "$d";`),
    op(`for f in ${metaFiles.join(' ')}; do`),
    op(`if [ -f "$d/${metaDirName}/$f" ]; then printf '\\n%s %s\\n' "$b" "$f"; cat -- "$d/${metaDirName}/$f"; fi;`),
    op('done;'),
    op(`printf '\\n%s du\\n' "$b"; du -sk -- "$d" 2>/dev/null | { read -r k rest; printf '%s' "$k"; };`),
    op('done'),
  );
  const result = await transport.run({ script: text }, { timeoutMs: 120_000 });
  if (result.code !== 0) {
    throw new DeployError(
      'host-state',
      `Could not list ${layout.releasesDir} on ${transport.label}: ${result.stderr.trim() || `exit ${result.code}`}.`,
    );
  }
  return parseListing(result.stdout, boundary).sort(compareNewestFirst);
}

/** One release's release.json, or null when it has none or it cannot be read (a hand-made release). One read. */
export async function readReleaseMeta(transport: Transport, layout: HostLayout, id: string): Promise<ReleaseMeta | null> {
  const bytes = await transport.readFile(layout.releaseJson(id));
  if (bytes === null) return null;
  try {
    return releaseMetaSchema.parse(JSON.parse(bytes.toString('utf8')));
  } catch {
    return null;
  }
}

/** Newest first: by createdAt, else the time in the id, then by id. Undated releases sort last. */
export function compareNewestFirst(a: Pick<Release, 'id' | 'createdAt'>, b: Pick<Release, 'id' | 'createdAt'>): number {
  const difference = releaseTime(b) - releaseTime(a);
  if (difference !== 0 && !Number.isNaN(difference)) return difference;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function releaseTime(release: Pick<Release, 'id' | 'createdAt'>): number {
  const created = release.createdAt === null ? Number.NaN : Date.parse(release.createdAt);
  if (!Number.isNaN(created)) return created;
  const stamp = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(release.id);
  if (stamp) {
    const fromId = Date.parse(`${stamp[1]}-${stamp[2]}-${stamp[3]}T${stamp[4]}:${stamp[5]}:${stamp[6]}Z`);
    if (!Number.isNaN(fromId)) return fromId;
  }
  return Number.NEGATIVE_INFINITY;
}

function parseListing(stdout: string, boundary: string): Release[] {
  type Parts = { id: string; files: Partial<Record<(typeof metaFiles)[number], string>>; du?: string };
  const collected: Parts[] = [];
  for (const chunk of stdout.split(`\n${boundary} `).slice(1)) {
    const newline = chunk.indexOf('\n');
    const kind = newline === -1 ? chunk : chunk.slice(0, newline);
    const content = newline === -1 ? '' : chunk.slice(newline + 1);
    if (kind === 'id') {
      collected.push({ id: content, files: {} });
      continue;
    }
    const current = collected.at(-1);
    if (current === undefined) continue;
    if (kind === 'du') current.du = content;
    else if ((metaFiles as readonly string[]).includes(kind)) current.files[kind as (typeof metaFiles)[number]] = content;
  }
  return collected.filter((parts) => isSafeReleaseId(parts.id)).map((parts) => toRelease(parts.id, parts.files, parts.du));
}

function toRelease(id: string, files: Partial<Record<(typeof metaFiles)[number], string>>, du: string | undefined): Release {
  const problems: string[] = [];
  const meta = parseJsonFile(files['release.json'], releaseMetaSchema, 'release.json', problems);
  if (meta !== null && meta.id !== id) problems.push(`release.json names release ${JSON.stringify(meta.id)}, not ${id}`);
  let failed: FailedInfo | null = null;
  if (files['failed.json'] !== undefined) {
    // Its presence is what marks the failure; an unreadable one still does.
    failed = parseJsonFile(files['failed.json'], failedInfoSchema, 'failed.json', problems) ?? {
      at: 'unknown',
      step: 'unknown',
      message: 'failed.json is present but unreadable',
    };
  }
  let contract: Contract | null = null;
  if (files['contract.json'] !== undefined) {
    const parsed = parseContract(files['contract.json']);
    if ('contract' in parsed) contract = parsed.contract;
    else problems.push(`contract.json ${parsed.problem}`);
  }
  // Releases recorded before contract.json existed have only tools.json: still readable.
  const tools = contract
    ? contract.tools.map((tool) => tool.name)
    : parseJsonFile(files['tools.json'], toolsSchema, 'tools.json', problems);
  const kib = du !== undefined && /^\d+$/.test(du.trim()) ? Number(du.trim()) : null;
  return {
    id,
    createdAt: meta?.createdAt ?? null,
    gitSha: meta?.gitSha ?? null,
    operator: meta?.operator ?? null,
    requirementsHash: meta?.requirementsHash ?? null,
    depsHash: depsHashOf(meta?.install),
    install: meta?.install ?? null,
    files: meta?.files ?? null,
    bytes: meta?.bytes ?? null,
    sizeBytes: kib === null ? null : kib * 1024,
    failed,
    tools,
    contract,
    metadata: files['release.json'] === undefined ? 'missing' : meta === null ? 'invalid' : 'ok',
    problems,
  };
}

function depsHashOf(install: unknown): string | null {
  if (typeof install !== 'object' || install === null) return null;
  const { kind, hash } = install as { kind?: unknown; hash?: unknown };
  return kind === 'deps' && typeof hash === 'string' ? hash : null;
}

function parseJsonFile<T>(text: string | undefined, schema: z.ZodType<T>, name: string, problems: string[]): T | null {
  if (text === undefined) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    problems.push(`${name} is not valid JSON`);
    return null;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    problems.push(`${name} is not valid: ${issue ? `${issue.path.join('.') || '(top level)'}: ${issue.message}` : 'unknown'}`);
    return null;
  }
  return parsed.data;
}

/**
 * Records that a release failed (failed.json), so listings show it, keepReleases does not count
 * it and rollback never picks it by default. `at` defaults to the host's clock. Only for a release
 * dir that exists: a failed upload is still a `.partial` and is simply garbage.
 */
export async function markFailed(
  transport: Transport,
  layout: HostLayout,
  id: string,
  failure: { step: string; message: string; at?: string },
): Promise<FailedInfo> {
  const epoch = await prepareMetaDir(transport, layout, id);
  const info: FailedInfo = {
    at: failure.at ?? hostTimeFromEpoch(epoch).iso,
    step: failure.step,
    // A debugging aid, not a log archive: the full server log is in shared/logs.
    message: failure.message.length > 16_000 ? `${failure.message.slice(0, 16_000)}…` : failure.message,
  };
  await transport.writeFileAtomic(layout.failedJson(id), `${JSON.stringify(info, null, 2)}\n`, 0o644);
  return info;
}

/** One release's recorded contract, in one read; null when it has none (or an unreadable one). */
export async function readReleaseContract(transport: Transport, layout: HostLayout, id: string): Promise<Contract | null> {
  assertSafeReleaseId(id);
  const bytes = await transport.readFile(layout.contractJson(id));
  if (bytes === null) return null;
  const parsed = parseContract(bytes.toString('utf8'));
  return 'contract' in parsed ? parsed.contract : null;
}

/**
 * Records a release's MCP contract once its health checks passed: `contract.json`, stable sorted
 * JSON, written atomically. It replaces tools.json, whose names it holds; older releases keep
 * theirs and are read from it.
 */
export async function recordContract(transport: Transport, layout: HostLayout, id: string, contract: Contract): Promise<void> {
  assertSafeReleaseId(id);
  const path = layout.contractJson(id);
  // One command: the checks of prepareMetaDir, then the file through a temporary one and a rename.
  const write = writeFileAtomicCommand(path, `${path}.tmp-${randomBytes(6).toString('hex')}`, 0o644);
  const text = script(
    op('[ -d'),
    arg(layout.releaseDir(id)),
    op('] || exit 3; mkdir -p --'),
    arg(layout.metaDir(id)),
    op(`|| exit 4; {\n${write.script}\n}`),
  );
  const result = await transport.run({ script: text }, { input: stableJson(contract), timeoutMs: 30_000 });
  if (result.code === 3)
    throw new DeployError('host-state', `Release ${id} does not exist on ${transport.label} (${layout.releaseDir(id)}).`);
  if (result.code !== 0)
    throw new DeployError(
      'host-state',
      `Could not write ${result.code === 4 ? `to ${layout.metaDir(id)}` : path} on ${transport.label}: ${result.stderr.trim() || `exit ${result.code}`}.`,
    );
}

/**
 * Makes sure `.mcp-deploy` exists in an existing release dir (a hand-made one may lack it) and
 * returns the host's time. Never creates the release dir itself: a release dir that exists must
 * be a complete one.
 */
async function prepareMetaDir(transport: Transport, layout: HostLayout, id: string): Promise<number> {
  assertSafeReleaseId(id);
  const text = script(
    op('[ -d'),
    arg(layout.releaseDir(id)),
    op('] || exit 3; mkdir -p --'),
    arg(layout.metaDir(id)),
    op('&& date -u +%s'),
  );
  const result = await transport.run({ script: text }, { timeoutMs: 30_000 });
  if (result.code === 3)
    throw new DeployError('host-state', `Release ${id} does not exist on ${transport.label} (${layout.releaseDir(id)}).`);
  if (result.code !== 0) {
    throw new DeployError(
      'host-state',
      `Could not write to ${layout.metaDir(id)} on ${transport.label}: ${result.stderr.trim() || `exit ${result.code}`}.`,
    );
  }
  return parseEpoch(result.stdout, transport.label);
}
