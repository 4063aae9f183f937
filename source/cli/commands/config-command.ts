import { loadConfig, selectTarget } from '../../config/load.js';
import { serverSecretValues } from '../../engine/env-file.js';
import { notifySecrets } from '../../notify/secrets.js';
import { configLines, configView } from '../../ops/config-view.js';
import { createScrubber } from '../../run/scrub.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';

/** `mcp-deploy config [--target NAME] [--json]`: the resolved config for a target, secrets masked. Touches no host. */
export async function configCommand(options: GlobalOptions, output: Output): Promise<number> {
  const config = loadConfig({ ...(options.config ? { file: options.config } : {}) });
  const target = selectTarget(config, options.target);
  // Belt and braces: what configView masks by structure, the output masks by value too.
  const channel = notifySecrets(config.notify);
  output.mask(createScrubber({ urls: channel.urls, values: [...channel.values, ...serverSecretValues(config)] }));
  const view = configView(config, target);
  if (output.json) {
    output.document({
      file: view.file,
      targets: view.targets,
      ...view.config,
      target: view.target,
      serverEnv: view.serverEnv,
      ...(view.envFileProblem === undefined ? {} : { envFileProblem: view.envFileProblem }),
    });
    return 0;
  }
  output.line(
    output.paint.bold(`${view.file} · target ${target.name}${view.targets.length > 1 ? ` (of ${view.targets.join(', ')})` : ''}`),
  );
  for (const line of configLines(view.config)) output.line(line);
  for (const line of configLines(view.target, 'target')) output.line(line);
  for (const env of view.serverEnv) {
    const from = env.from === null ? output.paint.red('not set') : `from ${env.from}`;
    output.line(`serverEnv.${env.name}: ${from}${env.required ? ' (required)' : ''}`);
  }
  if (view.envFileProblem !== undefined) output.line(output.paint.yellow(`! ${view.envFileProblem}`));
  return 0;
}
