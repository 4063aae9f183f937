/**
 * A test-only hook: MCP_DEPLOY_FAULT=<step>:<phase>:<fault> makes the CLI break itself at that
 * point, so the reliability tests can prove that no fault leaves a host without a serving
 * release. Faults: `exit` (die at once, no cleanup, like SIGKILL), `throw` (an error in the step),
 * `sigint` (as if Ctrl-C was pressed there), `pause` (print `FAULT-PAUSE <step>:<phase>` on
 * stderr and wait for SIGUSR2, at most MCP_DEPLOY_FAULT_PAUSE_MS, default 10 s: lets a test act
 * at that exact point, such as cutting the SSH connection, then carry on). Ignored unless
 * MCP_DEPLOY_TESTING=1 is also set, so a stray variable in an operator's shell can never break a
 * real deploy. A fourth part, a number N, makes it fire only the Nth time that point is reached
 * (a fleet reaches each step once per host: `switch:end:exit:2` dies once the second host switched).
 */
export function faultCheckpoint(): ((step: string, phase: 'start' | 'end') => Promise<void>) | undefined {
  const spec = process.env['MCP_DEPLOY_FAULT'];
  if (!spec || process.env['MCP_DEPLOY_TESTING'] !== '1') return undefined;
  const [faultStep, faultPhase, fault, nth] = spec.split(':');
  const only = nth === undefined ? null : Number(nth);
  let hits = 0;
  return async (step, phase) => {
    if (step !== faultStep || phase !== faultPhase) return;
    hits += 1;
    if (only !== null && hits !== only) return;
    if (fault === 'exit') process.kill(process.pid, 'SIGKILL');
    if (fault === 'sigint') {
      process.kill(process.pid, 'SIGINT');
      await new Promise((resolve) => setTimeout(resolve, 50));
      return;
    }
    if (fault === 'pause') {
      await pause(`${step}:${phase}`);
      return;
    }
    throw new Error(`injected fault at ${step}:${phase}`);
  };
}

async function pause(where: string): Promise<void> {
  const limit = Number(process.env['MCP_DEPLOY_FAULT_PAUSE_MS'] ?? 10_000);
  await new Promise<void>((resolve) => {
    // The handler is in place before the marker is printed: a SIGUSR2 sent on seeing it cannot
    // arrive unhandled (its default action would end the process).
    const done = () => {
      clearTimeout(timer);
      process.off('SIGUSR2', done);
      resolve();
    };
    const timer = setTimeout(done, Number.isFinite(limit) && limit >= 0 ? limit : 10_000);
    process.on('SIGUSR2', done);
    process.stderr.write(`FAULT-PAUSE ${where}\n`);
  });
}
