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
 * Whether a fetch failure's cause says a server was reached but did not speak HTTP as the API does: it closed the
 * connection while the request was sent or before answering (EPIPE, ECONNRESET; undici's UND_ERR_SOCKET "other side
 * closed"), answered something that is not HTTP/1.1 (llhttp's HPE_* codes, e.g. an SSH or database port), or sent no
 * answer at all (UND_ERR_HEADERS_TIMEOUT).
 */
function reachedButNotTheApi(code: string | undefined): boolean {
  if (!code) return false;
  return ['EPIPE', 'ECONNRESET', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'].includes(code) || code.startsWith('HPE_');
}

/**
 * The sentence a CLI prints for an error it did not expect. Node's fetch (undici) fails with "fetch failed" and the
 * reason in `cause`: nothing answering reads as the API being unreachable, with the address and what to check; a
 * server that answered but not as the API (reachedButNotTheApi) is named as such, in words rather than its errno
 * ("write EPIPE" said nothing to a user whose FAIRSCRIBE_API_URL pointed at another service).
 */
export function failureSentence(err: unknown, apiUrl: string | null): string {
  const e = err as { message?: string; cause?: { message?: string; code?: string } } | null;
  const cause = e?.cause?.message;
  if (e?.message === 'fetch failed') {
    if (reachedButNotTheApi(e.cause?.code)) {
      return (
        `the server at ${apiUrl ?? 'FAIRSCRIBE_API_URL'} did not answer as the fairscribe API (it ended the connection without an HTTP answer): ` +
        'is FAIRSCRIBE_API_URL the API\'s address (npm start writes it to .data/stack.json as apiUrl)?'
      );
    }
    return `cannot reach the API${apiUrl ? ` at ${apiUrl}` : ''}${cause ? ` (${cause})` : ''}: is the stack running (npm start), or FAIRSCRIBE_API_URL wrong?`;
  }
  return `${parseArgsMessage(err)}${cause ? ` (${cause})` : ''}`;
}
