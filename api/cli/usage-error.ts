/**
 * The sentence a CLI prints for a command line `node:util` parseArgs refused: its first sentence only. Node
 * appends advice about `--` to an unknown option ("To specify a positional argument starting with a '-', place it
 * at the end of the command after '--', as in '-- \"--bogus\"") that reads as if the option were a file name; the
 * usage text printed after it says what the options are.
 */
export function parseArgsMessage(err: unknown): string {
  // Duck-typed rather than `instanceof Error`: an error from another realm (Node's internals seen from a test
  // VM) would otherwise print as `TypeError [ERR_PARSE_ARGS_UNKNOWN_OPTION]: …`.
  const m = (err as { message?: unknown } | null)?.message;
  const message = typeof m === 'string' ? m : String(err);
  return message.replace(/\. To specify a positional argument[\s\S]*$/, '');
}

/**
 * Whether the command line asks for help (`--help` or `-h` before any `--`): every CLI then prints its usage on
 * stdout and exits 0, whatever else is on the line, as a user trying `--help` first expects (and with nothing
 * needed from the stack).
 */
export function helpRequested(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/**
 * The sentence a CLI prints for an error it did not expect. Node's fetch (undici) fails with "fetch failed" and the
 * reason in `cause`: that reads as the API being unreachable, with the address and what to check.
 */
export function failureSentence(err: unknown, apiUrl: string | null): string {
  const e = err as { message?: string; cause?: { message?: string } } | null;
  const cause = e?.cause?.message;
  if (e?.message === 'fetch failed') {
    return `cannot reach the API${apiUrl ? ` at ${apiUrl}` : ''}${cause ? ` (${cause})` : ''}: is the stack running (npm start), or FAIRSCRIBE_API_URL wrong?`;
  }
  return `${parseArgsMessage(err)}${cause ? ` (${cause})` : ''}`;
}
