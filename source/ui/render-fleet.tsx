import { render } from 'ink';
import type { FleetAppEngine } from './engine-port.js';
import { FleetMatrixApp } from './fleet-matrix.js';
import { ColorContext } from './paint.js';
import { restoreTerminal } from './render-app.js';

/** The fleet's terminal app, drawn until it exits; returns its exit code. The terminal is given back in every case. */
export async function renderFleetApp(engine: FleetAppEngine, options: { readonly color: boolean }): Promise<number> {
  const instance = render(
    <ColorContext.Provider value={options.color}>
      <FleetMatrixApp engine={engine} />
    </ColorContext.Provider>,
    { stdout: process.stdout, stdin: process.stdin, stderr: process.stderr, exitOnCtrlC: false, patchConsole: true },
  );
  try {
    const code: unknown = await instance.waitUntilExit();
    return typeof code === 'number' ? code : 0;
  } finally {
    instance.cleanup();
    restoreTerminal(process.stdin, process.stdout);
  }
}
