import { verifyRelease } from '../../engine/verify-release.js';
import { printableName } from '../../project/file-names.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { withHost } from '../with-host.js';

/** `mcp-deploy verify-release [ID] [--json]`: exit 0 when the release matches its manifest, 1 when it does not. */
export async function verifyReleaseCommand(release: string | undefined, options: GlobalOptions, output: Output): Promise<number> {
  return withHost(options, output, async (context, transport) => {
    const { release: checked, check } = await verifyRelease(transport, context.target.path, release ?? null);
    if (output.json) output.document({ target: context.target.name, release: checked, ...check });
    else if (check.problems.length === 0)
      output.line(
        `${output.paint.green('✔')} Release ${checked} on ${transport.label} matches its manifest: ${check.checked} files, sizes and sha256.`,
      );
    else {
      output.line(
        `${output.paint.red('✖')} Release ${checked} on ${transport.label} does not match its manifest (${check.problems.length} problem(s)):`,
      );
      for (const problem of check.problems.slice(0, 50))
        output.line(`    ${printableName(problem.path)}: ${problem.problem}${problem.linked ? ' (shared with another release)' : ''}`);
      if (check.problems.length > 50) output.line(`    … and ${check.problems.length - 50} more`);
    }
    return check.problems.length === 0 ? 0 : 1;
  });
}
