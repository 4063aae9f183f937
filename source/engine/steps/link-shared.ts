import { existsSync } from 'node:fs';
import { join } from 'node:path';
import ignore from 'ignore';
import { DeployError } from '../../errors.js';
import { linkShared } from '../../host/shared-links.js';
import { runStep } from '../../run/step.js';
import type { Session } from '../session.js';

/**
 * After the upload (and before a rollback or restart starts a release): make sure the release
 * links `shared.dirs` and `shared.files` to `shared/` on the host. Not run at all when neither is
 * configured. A shared file missing on the host fails the step before anything starts: the server
 * would otherwise run without it.
 */
export async function linkSharedStep(session: Session, release: string, options: { readonly deployed: boolean }): Promise<void> {
  const { context, transport, layout } = session;
  const { config, bus } = context;
  const { dirs, files } = config.shared;
  const count = dirs.length + files.length;
  if (count === 0) return;
  if (options.deployed) {
    // Shared paths are never shipped; say so when the source has one that would have been.
    const excluded = ignore().add([...config.exclude]);
    for (const path of [...dirs, ...files]) {
      const isDir = dirs.includes(path);
      if (existsSync(join(config.source, path)) && !excluded.ignores(isDir ? `${path}/` : path)) {
        bus.emit({
          kind: 'notice',
          level: 'warn',
          message: `${path} is in the source folder too: it was not shipped; the server uses shared/${path} on the host (shared.${isDir ? 'dirs' : 'files'}).`,
        });
      }
    }
  }
  await runStep(context, 'link', `Link ${count} shared ${count === 1 ? 'path' : 'paths'} into ${release}`, async (step) => {
    const outcomes = await linkShared(transport, layout, release, { dirs, files });
    const missing = outcomes.filter((outcome) => outcome.result === 'missing').map((outcome) => outcome.path);
    if (missing.length > 0) {
      throw new DeployError(
        'deploy',
        `shared.files: ${missing.map((path) => `shared/${path}`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} not on ${transport.label}.`,
        {
          hint: `Put ${missing.length === 1 ? 'it' : 'them'} in ${layout.sharedDir} on the host first (a deploy never writes a shared file), then deploy again.`,
        },
      );
    }
    for (const outcome of outcomes.filter((candidate) => candidate.result === 'release-copy')) {
      step.log(
        `${outcome.path} is a ${outcome.kind === 'dir' ? 'folder' : 'file'} of this release (shipped before it was shared): left as it is`,
      );
    }
    const linked = outcomes.filter((outcome) => outcome.result === 'linked').length;
    const kept = outcomes.filter((outcome) => outcome.result === 'kept').length;
    const copies = outcomes.length - linked - kept;
    step.detail(
      [linked > 0 ? `${linked} linked` : '', kept > 0 ? `${kept} already linked` : '', copies > 0 ? `${copies} release copy kept` : '']
        .filter(Boolean)
        .join(', '),
    );
  });
}
