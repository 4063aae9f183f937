import { get } from 'node:http';

/**
 * GET a JSON document on a connection of its own (no keep-alive pool): what a new client sees
 * right now. A pooled connection may still be held by an nginx worker that a reload told to
 * finish, which answers with the configuration it started with.
 */
export function freshJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent: false, timeout: 5_000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
        } catch {
          reject(new Error(`GET ${url}: HTTP ${response.statusCode}, not JSON: ${text.slice(0, 200)}`));
        }
      });
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${url}: no answer within 5 s`)));
    request.on('error', reject);
  });
}
