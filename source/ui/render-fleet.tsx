import { render } from 'ink';
import type { ReactElement } from 'react';
import type { FleetAppEngine, FleetReleasesListing } from './engine-port.js';
import { FleetReleasesBrowser } from './fleet-releases.js';
import { FleetMatrixApp } from './fleet-matrix.js';
import { ColorContext } from './paint.js';
import { restoreTerminal } from './render-app.js';

/** The fleet's terminal app, drawn until it exits; returns its exit code. The terminal is given back in every case. */
export function renderFleetApp(engine: FleetAppEngine, options: { readonly color: boolean }): Promise<number> {
  return draw(<FleetMatrixApp engine={engine} />, options.color);
}

/** The fleet's releases browser. */
export function renderFleetReleases(listing: FleetReleasesListing, options: { readonly color: boolean }): Promise<number> {
  return draw(<FleetReleasesBrowser listing={listing} />, options.color);
}

async function draw(element: ReactElement, color: boolean): Promise<number> {
  const instance = render(<ColorContext.Provider value={color}>{element}</ColorContext.Provider>, {
    stdout: process.stdout,
    stdin: process.stdin,
    stderr: process.stderr,
    exitOnCtrlC: false,
    patchConsole: true,
  });
  try {
    const code: unknown = await instance.waitUntilExit();
    return typeof code === 'number' ? code : 0;
  } finally {
    instance.cleanup();
    restoreTerminal(process.stdin, process.stdout);
  }
}
