import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPreferences } from '../../source/ui/preferences.js';

describe('the terminal app remembers per-user preferences', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mcpd-prefs-'));
    process.env['MCP_DEPLOY_PREFERENCES_DIR'] = dir;
  });
  afterEach(() => {
    delete process.env['MCP_DEPLOY_PREFERENCES_DIR'];
    chmodSync(dir, 0o700);
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the log pane by default and remembers hiding it across runs', () => {
    expect(openPreferences().read().showLogPane).toBe(true);
    openPreferences().save({ showLogPane: false });
    expect(openPreferences().read().showLogPane).toBe(false);
  });

  it('falls back to the defaults when the folder cannot be written', () => {
    chmodSync(dir, 0o500);
    const preferences = openPreferences();
    expect(() => preferences.save({ showLogPane: false })).not.toThrow();
    expect(preferences.read().showLogPane).toBe(process.getuid?.() !== 0);
  });
});
