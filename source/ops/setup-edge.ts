import type { Config, Target } from '../config/load.js';
import { type KeysTarget, readHostKeys, settleKeys, withKeysLock, writeHostKeys } from '../engine/keys-host.js';
import { command } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';
import { acmeOf, certbotCommand, certbotSudo, renewCronLine } from './tls.js';

/** setup's part of the public edge (#19): what `--tls` shows before it runs, and the keys file nginx reads with auth.apiKeys. */

/** What --tls will run, and how renewal is taken care of. */
export async function tlsReview(transport: Transport, config: Config, target: Target): Promise<{ title: string; text: string }[]> {
  const items = [
    {
      title: 'certbot, run by setup after your yes (webroot method: it never edits nginx)',
      text: `${command(certbotCommand(config, target))}\n`,
    },
  ];
  if (acmeOf(config).stateDir !== undefined) {
    items.push({
      title:
        certbotSudo(config, target) === null
          ? "renewal: certbot keeps its own state (acme.stateDir), which the certbot timer does not renew: setup adds this cron line to the SSH user's crontab"
          : "renewal: certbot keeps its own state (acme.stateDir), which the certbot timer does not renew: add this cron line to root's crontab",
      text: `${renewCronLine(config)}\n`,
    });
  } else {
    const timer = await transport
      .run({ script: 'systemctl is-enabled certbot.timer 2>/dev/null' }, { timeoutMs: 15_000 })
      .catch(() => null);
    items.push(
      timer?.stdout.trim() === 'enabled'
        ? {
            title: 'renewal',
            text: 'certbot.timer is enabled: it renews the certificate twice a day when due; the deploy hook reloads nginx.\n',
          }
        : {
            title: 'renewal: certbot.timer is not enabled on this host; enable it (as root), or add the cron line',
            text: `sudo systemctl enable --now certbot.timer\n# or, in root's crontab:\n${renewCronLine(config)}\n`,
          },
    );
  }
  return items;
}

/** The keys file with mcp-deploy's own probe key only: the http include reads it, so it must exist before nginx does. */
export async function makeKeysFile(transport: Transport, keysFile: { readonly app: string; readonly target: KeysTarget }): Promise<string> {
  const { target, app } = keysFile;
  await withKeysLock(transport, target, async () => {
    const current = await readHostKeys(transport, target);
    const { keys } = settleKeys(current);
    // Written only: the site that reads it may not exist yet, and setup reloads nothing.
    await writeHostKeys(transport, target, app, keys, current.text, undefined, { load: false });
  });
  return "mode 600, with mcp-deploy's probe key; add client keys with mcp-deploy keys add";
}

/**
 * With acme.stateDir and a certbot the SSH user runs itself, the Debian timer never sees the
 * certificate: the renewal cron line goes into that user's crontab (one line, marked, replaced
 * on a second run). A certbot run as root needs root's crontab: printed for the operator instead.
 */
export async function installRenewal(transport: Transport, config: Config, target: Target): Promise<{ ok: boolean; note: string }> {
  if (acmeOf(config).stateDir === undefined) return { ok: true, note: 'certbot.timer renews it (see the renewal note above)' };
  if (certbotSudo(config, target) !== null)
    return { ok: false, note: "certbot runs as root: add the cron line shown above to root's crontab" };
  const result = await transport.run(
    {
      script:
        'command -v crontab >/dev/null 2>&1 || exit 7; mark="# mcp-deploy: renew the certificate of $app"; { crontab -l 2>/dev/null | grep -vF "$mark"; printf "%s %s\\n" "$line" "$mark"; } | crontab -',
    },
    { env: { app: config.app, line: renewCronLine(config) }, timeoutMs: 15_000 },
  );
  if (result.code === 7) return { ok: false, note: 'crontab is missing on the host (apt-get install cron): add the cron line shown above' };
  if (result.code !== 0) return { ok: false, note: `crontab refused the line (${result.stderr.trim()}): add it by hand` };
  return { ok: true, note: "the renewal cron line is in the SSH user's crontab" };
}
