// Runs mcp-deploy again under the Node the repository brings, for a system Node that is too old,
// and stands in for it until it ends: every signal sent to this process reaches the child once,
// and this process ends the way the child did (its exit code, or the signal that killed it).
// Plain JavaScript that old Node versions can load.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/**
 * Passed on as they are. SIGWINCH matters too: the terminal app redraws on it, and only this
 * process, in the terminal's foreground group, receives it from the terminal.
 */
const forwarded = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGALRM'];

/**
 * The child runs in a session of its own (`detached`), so a signal the terminal sends to its
 * foreground group (Ctrl-C, a hang-up, a resize) reaches this process only, and the child gets it
 * from here, exactly once. In the same group, a Ctrl-C would arrive twice, and the second would
 * read as an operator insisting ("Still stopping safely"). The child keeps the terminal as its
 * stdin, stdout and stderr, so the terminal app works as before.
 */
export function relaunch(node, args) {
  const child = spawn(node, args, { stdio: 'inherit', detached: true, env: { ...process.env, MCP_DEPLOY_REEXEC: '1' } });
  const send = (signal) => {
    try {
      child.kill(signal);
    } catch {
      // It has ended; its exit is handled below.
    }
  };
  const handlers = new Map();
  const on = (signal, handler) => {
    handlers.set(signal, handler);
    process.on(signal, handler);
  };
  for (const signal of forwarded) on(signal, () => send(signal));
  // Ctrl-Z: a stop signal sent to a process whose group has no parent in its session (the
  // child's) is discarded by the kernel, so stop it with SIGSTOP, then stop ourselves the same
  // way; the shell's `fg` continues us (SIGCONT), and we continue the child.
  on('SIGTSTP', () => {
    send('SIGSTOP');
    process.kill(process.pid, 'SIGSTOP');
  });
  on('SIGCONT', () => send('SIGCONT'));

  child.on('error', (error) => {
    process.stderr.write(`mcp-deploy: could not start ${node}: ${error.message}\n`);
    process.exit(2);
  });
  child.on('exit', (code, signal) => {
    for (const [name, handler] of handlers) process.removeListener(name, handler);
    if (signal === null) process.exit(code ?? 1);
    // Killed by a signal: end the same way, so whoever waits on us sees what really happened.
    process.kill(process.pid, signal);
    // A signal whose default action does not end a process: the shell's convention instead.
    setTimeout(() => process.exit(128 + (constants.signals[signal] ?? 0)), 200).unref();
  });
}
