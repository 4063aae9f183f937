import { createInterface } from 'node:readline/promises';
import type { UnknownHostKey } from '../remote/connect.js';

/**
 * OpenSSH's question, asked on the terminal: an unknown host key is trusted only when a person
 * who can compare the fingerprint says yes. Never offered without a terminal, in CI or with --yes.
 */
export function terminalHostKeyPrompt(): ((question: UnknownHostKey) => Promise<boolean>) | undefined {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return undefined;
  return async ({ host, port, fingerprint, keyType }) => {
    const prompt = createInterface({ input: process.stdin, output: process.stderr });
    try {
      process.stderr.write(
        `The authenticity of host ${host}:${port} can't be established.\n${keyType} key fingerprint is ${fingerprint}.\n`,
      );
      const answer = await prompt.question('Trust it and add it to known_hosts? (yes/no) ');
      return /^y(es)?$/i.test(answer.trim());
    } finally {
      prompt.close();
    }
  };
}
