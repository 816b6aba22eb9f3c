/**
 * `--help` / `-h` on each CLI (README "Daily use"): the usage on stdout and exit 0, as a newcomer's first
 * command expects, not "Unknown option '--help'" with exit 2. None of them needs a running stack for it.
 */
import { main as transcribe } from '../../api/cli/transcribe';
import { main as admin } from '../../api/cli/admin';
import { main as backfill } from '../../api/cli/backfill';

function capture() {
  let out = '';
  let err = '';
  const o = jest.spyOn(process.stdout, 'write').mockImplementation((s: any) => ((out += String(s)), true));
  const e = jest.spyOn(process.stderr, 'write').mockImplementation((s: any) => ((err += String(s)), true));
  return {
    done: () => {
      o.mockRestore();
      e.mockRestore();
      return { out, err };
    },
  };
}

const CLIS: [string, (argv: string[]) => Promise<number>][] = [
  ['transcribe', transcribe],
  ['admin', admin],
  ['backfill', backfill],
];

describe.each(CLIS)('%s', (name, main) => {
  test.each([['--help'], ['-h']])(`%s prints the usage on stdout and exits 0`, async (flag) => {
    const c = capture();
    const code = await main([flag]);
    const { out, err } = c.done();
    expect(code).toBe(0);
    expect(out).toMatch(new RegExp(`^usage: npm run -s ${name} -- `));
    expect(err).toBe('');
  });

  test('an unknown option is a usage error (2) that names it and shows the usage', async () => {
    const c = capture();
    const code = await main(['--bogus']);
    const { out, err } = c.done();
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(new RegExp(`^${name}: Unknown option '--bogus'\\nusage: npm run -s ${name} -- `));
  });
});
