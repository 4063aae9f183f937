/**
 * A test-only hook: MCP_DEPLOY_FAULT=<step>:<phase>:<fault> makes the CLI break itself at that
 * point, so the reliability tests can prove that no fault leaves a host without a serving
 * release. Faults: `exit` (die at once, no cleanup, like SIGKILL), `throw` (an error in the step),
 * `sigint` (as if Ctrl-C was pressed there). Ignored unless MCP_DEPLOY_TESTING=1 is also set, so
 * a stray variable in an operator's shell can never break a real deploy.
 */
export function faultCheckpoint(): ((step: string, phase: 'start' | 'end') => Promise<void>) | undefined {
  const spec = process.env['MCP_DEPLOY_FAULT'];
  if (!spec || process.env['MCP_DEPLOY_TESTING'] !== '1') return undefined;
  const [faultStep, faultPhase, fault] = spec.split(':');
  return async (step, phase) => {
    if (step !== faultStep || phase !== faultPhase) return;
    if (fault === 'exit') process.kill(process.pid, 'SIGKILL');
    if (fault === 'sigint') {
      process.kill(process.pid, 'SIGINT');
      await new Promise((resolve) => setTimeout(resolve, 50));
      return;
    }
    throw new Error(`injected fault at ${step}:${phase}`);
  };
}
