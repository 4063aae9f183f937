import type { ChalkInstance } from 'chalk';
import type { ContractChange } from '../contract/change.js';

/** One contract change as a plain line's mark: what the plain reporter and `mcp-deploy diff` both print. */
export function changeMark(change: Pick<ContractChange, 'severity'>, paint: ChalkInstance): string {
  if (change.severity === 'breaking') return paint.red('✖ breaking');
  if (change.severity === 'risky') return paint.yellow('! risky   ');
  return paint.dim('· safe    ');
}
