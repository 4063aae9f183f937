import { z } from 'zod';
import { hostCommand, nonEmpty, port } from './schema-parts.js';

/**
 * HTTPS for the public domain (`mcp-deploy setup --tls`): certbot's certonly with the webroot
 * method, against Let's Encrypt unless `server` names another ACME directory (a private CA, or
 * Pebble in tests). docs/operations.md#https walks through it.
 */
export const acme = z.strictObject({
  /** The ACME directory certbot asks. */
  server: z.url({ error: 'expected the URL of an ACME directory' }).default('https://acme-v02.api.letsencrypt.org/directory'),
  /** Where the CA sends expiry warnings; without it certbot registers without an address. */
  email: z.email({ error: 'expected an e-mail address' }).optional(),
  /** How certbot is run on the host: as root, so through sudo -n by default (setup prints the sudoers line). */
  certbot: hostCommand.default(['sudo', '-n', 'certbot']),
  /**
   * certbot's own state (config, work and logs folders under it) instead of /etc/letsencrypt:
   * a certbot that runs as the deploy user, or a test. Renewal then needs a cron line (setup prints it).
   */
  stateDir: nonEmpty.optional(),
  /** The port plain HTTP is served on: where the ACME challenge is answered and everything else is redirected. */
  httpPort: port.default(80),
});

/** API keys at the edge: nginx refuses MCP requests without an accepted `Authorization: Bearer` key (docs/operations.md#api-keys). */
export const auth = z.strictObject({
  apiKeys: z.boolean().default(false),
  /** Paths nginx serves without a key (exact matches): health routes, left open by choice. */
  openPaths: z.array(nonEmpty.startsWith('/', 'must start with "/"')).default([]),
});

/** What may face the world. */
export const security = z.strictObject({
  /** A colour listening on anything but loopback (0.0.0.0, [::], a public address) fails the deploy instead of a warning. */
  loopbackOnly: z.boolean().default(false),
});

export type AcmeConfig = z.output<typeof acme>;
export type AuthConfig = z.output<typeof auth>;
