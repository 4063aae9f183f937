import { hostname } from 'node:os';
import type { Config } from '../../config/load.js';
import { DeployError } from '../../errors.js';
import { metaDirName, type HostLayout } from '../../host/layout.js';
import { removeTreeFunction } from '../../host/remove-tree.js';
import { listSourceFiles, type SourceEntry } from '../../project/source-files.js';
import type { Compression } from '../../remote/compression.js';
import { hostToolsProbe, parseHostTools } from '../../remote/host-tools.js';
import { arg, cmd, op, script } from '../../remote/quote.js';
import { uploadTree, type UploadReceipt } from '../../remote/tar-upload.js';
import { RemoteCommandError, runChecked, type Transport } from '../../remote/transport.js';
import type { UploadEntry } from '../../remote/upload-entry.js';
import { formatBytes } from '../../run/format.js';
import type { StepContext } from '../../run/step.js';
import { baseManifestScript, parseBaseManifest } from '../base-manifest.js';
import { buildManifest, diffManifests, type Manifest, type ManifestDiff } from '../manifest.js';
import { cachedManifest, sha256Hex, storeManifest } from '../manifest-cache.js';
import { checkRelease, describeProblems, type ReleaseCheck } from '../release-check.js';
import { planUpload, uploadTotals } from '../upload-plan.js';

export type UploadResult = {
  readonly files: number;
  readonly bytes: number;
  readonly linked: number;
  readonly diff: ManifestDiff;
  readonly compression: Compression;
  /** Bytes of the compressed archive (the wire carries these plus SSH's framing). */
  readonly archiveBytes: number;
  /** Linked files that no longer matched the base release's manifest, sent again. */
  readonly resent: readonly string[];
  /** Stale `.partial` uploads of killed runs, removed first. */
  readonly removedPartials: number;
  readonly check: ReleaseCheck;
};

export { readBaseManifest as readRemoteManifest } from '../base-manifest.js';

/** The local side of a release: its files and their manifest. Computed before anything changes on the host. */
export async function prepareRelease(config: Config): Promise<{ entries: SourceEntry[]; manifest: Manifest }> {
  // Our own metadata folder name is reserved inside a release.
  const entries = (await listSourceFiles(config)).filter(
    (entry) => entry.path !== metaDirName && !entry.path.startsWith(`${metaDirName}/`),
  );
  const files = entries.filter((entry): entry is Extract<SourceEntry, { kind: 'file' }> => entry.kind === 'file');
  // An empty tree (a wrong "source", an "exclude" that takes everything) would become a release
  // that cannot start: refuse it here, before the host is touched (found by the bad-input tests).
  if (files.length === 0) {
    throw new DeployError(
      'validate',
      `Nothing to deploy: the source folder ${config.source} has no files${config.exclude.length > 0 ? ' left after "exclude"' : ''}.`,
      {
        hint: 'Check "source" and "exclude" in the config file.',
      },
    );
  }
  const manifest = await buildManifest(files);
  return { entries, manifest };
}

/**
 * Uploads a release into `releases/.<id>.partial` and renames it to `releases/<id>` once it is
 * complete and matches its manifest, so a release folder that exists is always whole and right.
 * Three commands, whatever the file count: one prepares (refuses an existing release, removes the
 * partial uploads of killed runs, asks for the host's tools and the base release's manifest hash,
 * with the manifest itself only when this machine has no copy); one carries the whole tree as a
 * tar stream and lists what arrived (sizes of all files, sha256 of the sent ones, or of all with
 * `verifyAll`); one publishes it. Files whose bytes the base release already has are hard-linked
 * there, in the same stream; one that changed on the host since (its size, or with `verifyAll`
 * its bytes, differ from the base's manifest) is sent again.
 */
export async function uploadRelease(options: {
  readonly transport: Transport;
  readonly layout: HostLayout;
  readonly config: Config;
  readonly release: string;
  readonly base: string | null;
  readonly local: { entries: SourceEntry[]; manifest: Manifest };
  readonly meta: {
    createdAt: string;
    gitSha: string | null;
    operator: string;
    requirementsHash: string | null;
    /** The venv or shared install the release uses (runtime/install-record.ts), for rollback and prune. */
    install?: unknown;
  };
  readonly step: StepContext;
  readonly signal: AbortSignal;
  /** Hash every file of the new release on the host, not only the ones sent. */
  readonly verifyAll?: boolean;
  /** Only the bench sets this, to compare the choices. */
  readonly compression?: Compression;
  /**
   * Runs in the command that publishes the release, once it is published (the release's own
   * environment file, say), with `input` on its stdin: no command of its own.
   */
  readonly afterPublish?: { readonly script: string; readonly input: string; readonly what: string };
}): Promise<UploadResult> {
  const { transport, layout, release, base, local, step } = options;
  const partial = layout.partialDir(release);
  const final = layout.releaseDir(release);
  const cached = base === null ? null : await cachedManifest(base);
  const prepared = await transport.run({
    script: script(
      op('{ set --'),
      arg(final),
      op(`; if test -e "$1"; then echo '${existsMarker}'; exit 0; fi; }`),
      op(`&& ${removeTreeFunction}`),
      op('set --'),
      arg(layout.releasesDir),
      // Under the lock no other upload can be running: every .partial is a killed run's, and only fills the disk.
      op(
        `; for mcpd_p in "$1"/.*.partial; do test -e "$mcpd_p" || continue; mcpd_rmtree "$mcpd_p" || exit 1; echo '${removedMarker}'; done`,
      ),
      op('&&'),
      cmd(['mkdir', '-p', '--', layout.releasesDir]),
      op('&&'),
      op(hostToolsProbe),
      ...(base === null ? [] : [op('&&'), ...baseManifestScript(layout, base, cached?.hash ?? null)]),
    ),
  });
  if (prepared.stdout.includes(existsMarker))
    throw new DeployError('host-state', `Release ${release} already exists on ${transport.label}; refusing to overwrite it.`);
  if (prepared.code !== 0) throw new RemoteCommandError('preparing the upload', prepared.code, prepared.stderr.trim());
  const tools = parseHostTools(prepared.stdout);
  if (tools === null)
    throw new DeployError('host-state', `Preparing the upload on ${transport.label} printed no tool list: ${prepared.stderr.trim()}`);
  const removedPartials = prepared.stdout.split('\n').filter((line) => line === removedMarker).length;
  if (removedPartials > 0) step.log(`removed ${removedPartials} partial upload(s) left by killed runs`);
  const baseManifest = base === null ? null : await parseBaseManifest(prepared.stdout, base, cached);
  const previous = baseManifest?.manifest ?? null;

  const diff = diffManifests(local.manifest, previous);
  const plan = planUpload(
    {
      dirs: local.entries.filter((entry) => entry.kind === 'dir'),
      files: local.entries.filter((entry) => entry.kind === 'file'),
      symlinks: local.entries.filter((entry) => entry.kind === 'symlink'),
    },
    diff,
    previous === null || base === null ? null : layout.releaseDir(base),
    local.manifest,
  );
  const totals = uploadTotals(plan);
  const manifestBytes = Buffer.from(`${JSON.stringify(local.manifest)}\n`);
  const records: UploadEntry[] = [
    { kind: 'dir', path: metaDirName, mode: 0o755 },
    {
      kind: 'data',
      path: `${metaDirName}/manifest.json`,
      mode: 0o644,
      data: manifestBytes,
      ...(base !== null && baseManifest?.bytes ? { patchFrom: { hostPath: layout.manifestJson(base), bytes: baseManifest.bytes } } : {}),
    },
    { kind: 'data', path: `${metaDirName}/release.json`, mode: 0o644, data: releaseJson(options) },
  ];
  const send = (entries: readonly UploadEntry[]) =>
    uploadTree(transport, partial, entries, {
      tools,
      hash: options.verifyAll ? 'all' : 'sent',
      readOnlyFiles: true,
      signal: options.signal,
      ...(options.compression ? { compression: options.compression } : {}),
      onProgress: (progress) =>
        step.progress(progress.bytesDone, progress.bytesTotal, 'bytes', `${progress.filesDone}/${progress.filesTotal} files`),
    });
  let receipt: UploadReceipt;
  let check: ReleaseCheck;
  let resent: string[] = [];
  try {
    receipt = await send([...plan, ...records]);
    check = checkRelease(local.manifest, receipt.files);
    if (check.problems.length > 0 && check.problems.every((problem) => problem.linked)) {
      // The base release's copy was changed on the host after its manifest was written: send ours.
      resent = check.problems.map((problem) => problem.path);
      step.log(`${resent.length} linked file(s) differ from the base release's manifest (changed on the host?): sending them again`);
      await runChecked(
        transport,
        { script: script(cmd(['find', partial, '-type', 'd']), op("-exec chmod u+w -- '{}' +")) },
        'reopening folders',
      );
      const again = new Set(resent);
      const byPath = new Map(local.entries.map((entry) => [entry.path, entry]));
      const files = resent.flatMap((path): UploadEntry[] => {
        const source = byPath.get(path);
        const hashed = local.manifest.find((entry) => entry.path === path);
        return source?.kind === 'file'
          ? [
              {
                kind: 'file',
                path,
                mode: source.mode & 0o7777,
                size: source.size,
                localPath: source.absolutePath,
                ...(hashed ? { sha256: hashed.sha256 } : {}),
              },
            ]
          : [];
      });
      receipt = await send([...plan.filter((entry) => entry.kind === 'dir'), ...files]);
      check = checkRelease(local.manifest, receipt.files);
      if (check.problems.some((problem) => again.has(problem.path))) resent = [];
    }
    const arrivedManifest = receipt.files.get(`${metaDirName}/manifest.json`);
    if (arrivedManifest !== undefined && arrivedManifest.sha256 !== null && arrivedManifest.sha256 !== sha256Hex(manifestBytes))
      check = {
        ...check,
        problems: [...check.problems, { path: `${metaDirName}/manifest.json`, problem: 'other bytes than were sent', linked: false }],
      };
    if (check.problems.length > 0) {
      throw new DeployError(
        'deploy',
        `Release ${release} on ${transport.label} does not match its manifest after the upload: ${describeProblems(check.problems)}. It was not published.`,
        {
          hint: 'Something on the host changed the files while they arrived, or the disk is failing; check the host, then deploy again (mcp-deploy verify-release checks a release).',
        },
      );
    }
    const after = options.afterPublish;
    await runChecked(
      transport,
      after === undefined
        ? ['mv', '-T', '--', partial, final]
        : { script: script(cmd(['mv', '-T', '--', partial, final]), op(`&& {\n${after.script}\n}`)) },
      after === undefined ? 'publishing the release folder' : `publishing the release folder and ${after.what}`,
      after === undefined ? {} : { input: after.input, timeoutMs: 60_000 },
    );
  } catch (error) {
    throw await uploadFailure(transport, layout, totals.bytes, error);
  }
  await storeManifest(release, manifestBytes);
  return {
    files: totals.files + resent.length,
    bytes: totals.bytes,
    linked: totals.linked - resent.length,
    diff,
    compression: receipt.compression,
    archiveBytes: receipt.archiveBytes,
    resent,
    removedPartials,
    check,
  };
}

/** The upload step's line: what was sent and linked, how it travelled, what the host checked. */
export function uploadDetail(result: UploadResult): string {
  const { diff, check } = result;
  return [
    `${result.files} file(s) sent, ${formatBytes(result.bytes)}; ${result.linked} unchanged linked; +${diff.added.length} ~${diff.changed.length} -${diff.removed.length}`,
    `one tar stream, ${result.compression === 'none' ? 'uncompressed' : result.compression} ${formatBytes(result.archiveBytes)}`,
    `checked on the host: ${check.checked} sizes, ${check.hashed} sha256`,
  ].join('; ');
}

const existsMarker = 'mcp-deploy-release-exists';
const removedMarker = 'mcp-deploy-removed-partial';

function releaseJson(options: Parameters<typeof uploadRelease>[0]): Buffer {
  const { manifest } = options.local;
  return Buffer.from(
    `${JSON.stringify(
      {
        id: options.release,
        createdAt: options.meta.createdAt,
        gitSha: options.meta.gitSha,
        operator: options.meta.operator,
        localHost: hostname(),
        requirementsHash: options.meta.requirementsHash,
        ...(options.meta.install === undefined || options.meta.install === null ? {} : { install: options.meta.install }),
        files: manifest.length,
        bytes: manifest.reduce((sum, entry) => sum + entry.size, 0),
        base: options.base,
      },
      null,
      2,
    )}\n`,
  );
}

/**
 * After a failed upload (found by the host-fault tests): look at the free space while the partial
 * upload still fills it (the deploy removes it afterwards) and say so when that was the cause. A
 * connection that is gone fails the look quietly, and the original error stands.
 */
async function uploadFailure(transport: Transport, layout: HostLayout, bytes: number, error: unknown): Promise<unknown> {
  const df = await transport.run(['df', '-Pk', layout.releasesDir], { timeoutMs: 15_000 }).catch(() => null);
  const availableKiB = Number(df?.code === 0 ? df.stdout.trim().split('\n').pop()?.trim().split(/\s+/)[3] : Number.NaN);
  const message = error instanceof Error ? error.message : String(error);
  const full =
    /no space left|ENOSPC|quota exceeded|EDQUOT/i.test(message) ||
    (Number.isFinite(availableKiB) && availableKiB * 1024 < Math.max(bytes, 64 * 1024) && availableKiB < 1024);
  if (!full) return error;
  return new DeployError(
    'deploy',
    `The host ran out of disk space while uploading (${Number.isFinite(availableKiB) ? `${availableKiB} KiB free under ${layout.releasesDir}` : 'disk full'}; this release sends ${Math.ceil(bytes / 1024)} KiB): ${message}`,
    {
      hint: 'Free space on the host (old releases: mcp-deploy releases; logs in shared/logs; keepReleases), then deploy again.',
      cause: error,
    },
  );
}
