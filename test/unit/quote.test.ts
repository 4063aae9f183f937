import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allOf, arg, cmd, command, op, quote, script } from '../../source/remote/quote.js';

/**
 * quote.ts is the only barrier between user values and a shell: every argument must reach the
 * program byte for byte, whatever it contains. Checked against a real `sh`.
 */

/** What `sh` passes to a program for the given command text: printf prints each argument NUL-terminated. */
function shellArguments(commandText: string): string[] {
  const output = execFileSync('sh', ['-c', `printf '%s\\0' ${commandText}`], { encoding: 'utf8', timeout: 10_000 });
  return output.split('\0').slice(0, -1);
}

/** Any Unicode text a command line can carry: well-formed and without NUL, which argv cannot hold. */
const argument = fc.string({ unit: 'binary', maxLength: 40 }).filter((value) => !value.includes('\0') && !/\p{Cs}/u.test(value));
const shellish = fc.string({ unit: fc.constantFrom(...'\'"`$\\ \t\n;&|<>(){}[]*?~!#%=-:,./@+^'.split(''), 'a', 'é', '🚀'), maxLength: 20 });

describe('command() round-trips through sh', () => {
  it('for arbitrary Unicode arguments', () => {
    fc.assert(
      fc.property(fc.array(argument, { minLength: 1, maxLength: 6 }), (args) => {
        expect(shellArguments(command(args))).toEqual(args);
      }),
      { numRuns: 200 },
    );
  });

  it('for arguments made of shell metacharacters', () => {
    fc.assert(
      fc.property(fc.array(shellish, { minLength: 1, maxLength: 6 }), (args) => {
        expect(shellArguments(command(args))).toEqual(args);
      }),
      { numRuns: 200 },
    );
  });

  const examples: readonly (readonly [string, string])[] = [
    ['empty', ''],
    ['space', 'two words'],
    ['single quote', "it's"],
    ['only quotes', "'''"],
    ['double quotes', '"x"'],
    ['command substitution', '$(touch /tmp/mcpd-quote-canary)'],
    ['backticks', '`touch /tmp/mcpd-quote-canary`'],
    ['variable', '$HOME ${PATH}'],
    ['newline', 'a\nb'],
    ['trailing newline', 'a\n'],
    ['leading dash', '-rf'],
    ['glob', '*'],
    ['tilde', '~'],
    ['backslash', 'a\\b\\'],
    ['history bang', '!!'],
    ['unicode', 'żółć 日本 🚀 👩‍👩‍👧'],
    ['control characters', '\u0001\u001b[31m\u007f'],
  ];
  for (const [name, value] of examples) {
    it(`keeps ${name} literal`, () => {
      expect(shellArguments(command([value]))).toEqual([value]);
    });
  }

  it('never runs anything', () => {
    const canary = `/tmp/mcpd-quote-canary-${process.pid}`;
    shellArguments(command([`$(touch ${canary})`, `\`touch ${canary}\``, `'; touch ${canary}; '`]));
    expect(() => execFileSync('test', ['-e', canary])).toThrow();
  });
});

describe('quote()', () => {
  it('leaves safe words bare and quotes the rest', () => {
    expect(quote('simple-word_1.2/x:y@z')).toBe('simple-word_1.2/x:y@z');
    expect(quote('')).toBe("''");
    expect(quote('a b')).toBe("'a b'");
    expect(quote("it's")).toBe("'it'\\''s'");
  });

  it('refuses an empty command', () => {
    expect(() => command([])).toThrow();
  });
});

describe('script()', () => {
  it('joins quoted commands with operators', () => {
    const text = script(cmd(['printf', '%s\n', 'a b']), op('|'), cmd(['wc', '-l']));
    expect(execFileSync('sh', ['-c', text], { encoding: 'utf8' }).trim()).toBe('1');
  });

  it('quotes arg() parts', () => {
    const text = script(op('printf "%s\\0"'), arg('$(id)'), arg("'"));
    expect(execFileSync('sh', ['-c', text], { encoding: 'utf8' }).split('\0').slice(0, -1)).toEqual(['$(id)', "'"]);
  });

  it('allOf stops at the first failure', () => {
    const text = allOf(['true'], ['false'], ['echo', 'not reached']);
    const result = (() => {
      try {
        return execFileSync('sh', ['-c', text], { encoding: 'utf8' });
      } catch (error) {
        return `failed: ${(error as { stdout: string }).stdout}`;
      }
    })();
    expect(result).toBe('failed: ');
  });
});
