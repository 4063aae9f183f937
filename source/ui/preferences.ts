import Conf from 'conf';

/**
 * What the terminal app remembers per user between runs (never in the repo, never on the host):
 * for now, whether the log pane is shown. Stored by `conf` in the user's config folder
 * (~/.config/mcp-deploy-nodejs on Linux); MCP_DEPLOY_PREFERENCES_DIR moves it (tests use that).
 * A home that cannot be written must never break a deploy, so every failure falls back to the
 * defaults.
 */
export type Preferences = { readonly showLogPane: boolean };

const defaults: Preferences = { showLogPane: true };

export type PreferenceStore = { read(): Preferences; save(patch: Partial<Preferences>): void };

export function openPreferences(): PreferenceStore {
  let store: Conf<Preferences> | null = null;
  try {
    const cwd = process.env['MCP_DEPLOY_PREFERENCES_DIR'];
    store = new Conf<Preferences>({ projectName: 'mcp-deploy', defaults, ...(cwd ? { cwd } : {}) });
  } catch {
    store = null;
  }
  return {
    read: () => {
      try {
        return { showLogPane: store?.get('showLogPane') ?? defaults.showLogPane };
      } catch {
        return defaults;
      }
    },
    save: (patch) => {
      try {
        for (const [key, value] of Object.entries(patch)) store?.set(key as keyof Preferences, value as boolean);
      } catch {
        // not remembered this time
      }
    },
  };
}
