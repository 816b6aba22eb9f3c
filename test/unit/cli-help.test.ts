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

/**
 * A command line the CLI cannot act on is a usage error (2) whose first line says what is wrong in our words
 * (never a Node error code such as ENOENT), then the usage; nothing reaches the API.
 */
describe('usage errors say why', () => {
  async function run(main: (argv: string[]) => Promise<number>, argv: string[]) {
    const c = capture();
    const code = await main(argv);
    return { code, ...c.done() };
  }

  test('transcribe: two files are refused, not the second silently dropped', async () => {
    const r = await run(transcribe, ['package.json', 'tsconfig.json']);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^transcribe: give one audio file \(got 2\); for a folder, use npm run backfill\nusage: /);
  });

  test('backfill: a folder or manifest that does not exist is named in a sentence', async () => {
    const r = await run(backfill, ['no/such/folder']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^backfill: no such folder or manifest: no\/such\/folder\n/);
    expect(r.err).not.toMatch(/ENOENT|stat '/);
  });

  test.each([['0'], ['abc'], ['1.5']])('backfill: --max-in-flight %s says what it must be', async (n) => {
    const r = await run(backfill, ['.', '--max-in-flight', n]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^backfill: --max-in-flight must be a whole number of at least 1 \\(got '${n.replace('.', '\\.')}'\\)\\nusage: `));
  });

  test('backfill: one audio file is not read as a manifest ("not JSON"): it points to transcribe', async () => {
    const r = await run(backfill, ['../shared/audio/jfk.wav']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('backfill: ../shared/audio/jfk.wav is an audio file; give a folder or a .jsonl manifest (for one file, use npm run transcribe)\n');
  });

  test('backfill: two sources are refused', async () => {
    const r = await run(backfill, ['a', 'b']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^backfill: give one folder or manifest \(got 2\)\nusage: /);
  });

  test('admin: an unknown command is named', async () => {
    const r = await run(admin, ['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^admin: unknown command 'frobnicate'\nusage: /);
  });

  test('admin: no command at all shows the usage', async () => {
    const r = await run(admin, []);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^usage: /);
  });
});
