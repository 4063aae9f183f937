import { execa } from 'execa';

/** The short commit of the source folder when it is in a git checkout; null otherwise. */
export async function gitRevision(folder: string): Promise<string | null> {
  try {
    const { stdout } = await execa('git', ['rev-parse', '--short=7', 'HEAD'], { cwd: folder, timeout: 10_000 });
    const sha = stdout.trim();
    return /^[0-9a-f]{4,64}$/.test(sha) ? sha : null;
  } catch {
    return null;
  }
}
