import { hostname } from 'node:os';
import type { Config } from '../../config/load.js';
import { DeployError } from '../../errors.js';
import { metaDirName, type HostLayout } from '../../host/layout.js';
import { removeTree } from '../../host/remove-tree.js';
import { listSourceFiles, type SourceEntry } from '../../project/source-files.js';
import { runChecked, type Transport } from '../../remote/transport.js';
import { buildManifest, diffManifests, manifestSchema, type Manifest, type ManifestDiff } from '../manifest.js';
import type { StepContext } from '../../run/step.js';
import { planUpload, uploadTotals } from '../upload-plan.js';

export type UploadResult = {
  readonly files: number;
  readonly bytes: number;
  readonly linked: number;
  readonly diff: ManifestDiff;
};

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

/** The manifest of a release on the host, or null when it has none (first deploy, hand-made release). */
export async function readRemoteManifest(transport: Transport, layout: HostLayout, release: string | null): Promise<Manifest | null> {
  if (release === null) return null;
  const buffer = await transport.readFile(layout.manifestJson(release));
  if (buffer === null) return null;
  try {
    return manifestSchema.parse(JSON.parse(buffer.toString('utf8')));
  } catch {
    return null; // an unreadable manifest only costs a full upload
  }
}

/**
 * Uploads a release into `releases/.<id>.partial` and renames it to `releases/<id>` once complete,
 * so a release folder that exists is always whole. Files whose bytes the base release already has
 * are hard-linked on the host instead of sent.
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
}): Promise<UploadResult> {
  const { transport, layout, release, base, local, step } = options;
  const previous = await readRemoteManifest(transport, layout, base);
  const diff = diffManifests(local.manifest, previous);
  const plan = planUpload(
    {
      dirs: local.entries.filter((entry) => entry.kind === 'dir'),
      files: local.entries.filter((entry) => entry.kind === 'file'),
      symlinks: local.entries.filter((entry) => entry.kind === 'symlink'),
    },
    diff,
    previous === null || base === null ? null : layout.releaseDir(base),
  );
  const totals = uploadTotals(plan);
  const partial = layout.partialDir(release);
  const final = layout.releaseDir(release);
  const exists = await transport.run(['test', '-e', final]);
  if (exists.code === 0)
    throw new DeployError('host-state', `Release ${release} already exists on ${transport.label}; refusing to overwrite it.`);
  await runChecked(transport, removeTree(partial), 'clearing an old partial upload');
  await runChecked(transport, ['mkdir', '-p', layout.releasesDir], 'creating the releases folder');
  try {
    await transport.uploadTree(partial, [...plan, { kind: 'dir', path: metaDirName, mode: 0o755 }], {
      signal: options.signal,
      onProgress: (progress) =>
        step.progress(progress.bytesDone, totals.bytes, 'bytes', `${progress.filesDone}/${progress.filesTotal} files`),
    });
    const meta = `${partial}/${metaDirName}`;
    await transport.writeFileAtomic(`${meta}/manifest.json`, `${JSON.stringify(local.manifest)}\n`);
    await transport.writeFileAtomic(
      `${meta}/release.json`,
      `${JSON.stringify(
        {
          id: release,
          createdAt: options.meta.createdAt,
          gitSha: options.meta.gitSha,
          operator: options.meta.operator,
          localHost: hostname(),
          requirementsHash: options.meta.requirementsHash,
          ...(options.meta.install === undefined || options.meta.install === null ? {} : { install: options.meta.install }),
          files: local.manifest.length,
          bytes: local.manifest.reduce((sum, entry) => sum + entry.size, 0),
          base,
        },
        null,
        2,
      )}\n`,
    );
    await runChecked(transport, ['mv', '-T', partial, final], 'publishing the release folder');
  } catch (error) {
    throw await uploadFailure(transport, layout, totals.bytes, error);
  }
  return { files: totals.files, bytes: totals.bytes, linked: totals.linked, diff };
}

/**
 * After a failed upload (found by the host-fault tests): SFTP reports a full disk as a bare
 * "Failure", so look at the free space while the partial upload still fills it (the deploy
 * removes it afterwards) and say so when that was the cause. A connection that is gone fails the
 * look quietly, and the original error stands.
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
