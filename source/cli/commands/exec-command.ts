import { execInActiveRelease } from '../../engine/exec.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { withHost } from '../with-host.js';

/**
 * `mcp-deploy exec -- CMD [ARGS...]`: runs CMD on the host in the active release's folder, with
 * its server's environment. Its output streams as it comes (with --json: one document at the
 * end), and mcp-deploy exits with CMD's own exit code (130 when stopped with Ctrl-C).
 */
export async function execCommand(argv: readonly string[], options: GlobalOptions, output: Output): Promise<number> {
  return withHost(options, output, async (context, transport) => {
    const captured: { stdout: string[]; stderr: string[] } = { stdout: [], stderr: [] };
    const result = await execInActiveRelease(context, transport, {
      argv,
      signal: context.signal,
      onLine: (line, stream) => {
        if (output.json) captured[stream].push(line);
        else if (stream === 'stdout') output.data(line);
        else output.dataError(line);
      },
    });
    const exitCode = result.code ?? 130;
    if (output.json) {
      output.document({
        ok: exitCode === 0,
        target: context.target.name,
        release: result.release,
        command: result.command,
        stdout: captured.stdout.join('\n'),
        stderr: captured.stderr.join('\n'),
        exitCode,
      });
    } else if (result.code === null) {
      output.dataError(output.paint.yellow(`! stopped: ${result.command} (in ${result.release})`));
    } else if (exitCode !== 0) {
      output.dataError(output.paint.red(`✖ ${result.command} exited ${exitCode} on ${transport.label} (in ${result.release})`));
    }
    return exitCode;
  });
}
