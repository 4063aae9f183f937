import { render } from 'ink';
import { InitWizard, type InitWizardPort } from './init-wizard.js';
import { restoreTerminal } from './render-app.js';

/**
 * `mcp-deploy init` in a terminal: what was found, one question per setting with the guess
 * filled in, the config to review, then the writes, each asked for. Returns the exit code:
 * 0 written or quit (nothing written), 130 for Ctrl-C, the error's code when a write failed.
 */
export async function renderInitWizard(
  port: InitWizardPort,
  options: { readonly color: boolean; readonly stdout?: NodeJS.WriteStream; readonly stdin?: NodeJS.ReadStream },
): Promise<number> {
  const stdout = options.stdout ?? process.stdout;
  const stdin = options.stdin ?? process.stdin;
  const instance = render(<InitWizard port={port} color={options.color} />, {
    stdout,
    stdin,
    stderr: process.stderr,
    exitOnCtrlC: false,
    patchConsole: true,
  });
  // Nothing is half-written at any moment a signal can land (each write is one call): leave at once.
  let signalled: number | null = null;
  const onSignal = () => {
    signalled = 130;
    instance.unmount();
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const signal of signals) process.on(signal, onSignal);
  try {
    const code: unknown = await instance.waitUntilExit();
    return signalled ?? (typeof code === 'number' ? code : 0);
  } finally {
    for (const signal of signals) process.off(signal, onSignal);
    instance.cleanup();
    restoreTerminal(stdin, stdout);
  }
}
