import type { ReactElement } from 'react';
import type { FleetAppEngine, FleetReleasesListing } from './engine-port.js';
import { FleetReleasesBrowser } from './fleet-releases.js';
import { FleetMatrixApp } from './fleet-matrix.js';
import { ColorContext } from './paint.js';
import { drawUntilExit } from './render-app.js';

/** The fleet's terminal app, drawn until it exits; returns its exit code. The terminal is given back in every case. */
export function renderFleetApp(engine: FleetAppEngine, options: { readonly color: boolean }): Promise<number> {
  return draw(<FleetMatrixApp engine={engine} />, options.color);
}

/** The fleet's releases browser. */
export function renderFleetReleases(listing: FleetReleasesListing, options: { readonly color: boolean }): Promise<number> {
  return draw(<FleetReleasesBrowser listing={listing} />, options.color);
}

function draw(element: ReactElement, color: boolean): Promise<number> {
  return drawUntilExit(<ColorContext.Provider value={color}>{element}</ColorContext.Provider>, process.stdin, process.stdout);
}
