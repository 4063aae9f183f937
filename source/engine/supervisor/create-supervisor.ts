import type { Target } from '../../config/load.js';
import { DeployError } from '../../errors.js';
import type { HostLayout } from '../../host/layout.js';
import type { Transport } from '../../remote/transport.js';
import { ProcessSupervisor } from './process-supervisor.js';
import type { Supervisor } from './supervisor.js';

export function createSupervisor(target: Target, transport: Transport, layout: HostLayout, app: string): Supervisor {
  if (target.supervisor === 'process') return new ProcessSupervisor(transport, layout);
  throw new DeployError('config', `targets.${target.name}.supervisor "systemd" is not available yet in this version (app ${app}).`, {
    hint: 'Use "supervisor": "process" for now; systemd units arrive with `mcp-deploy setup`.',
  });
}
