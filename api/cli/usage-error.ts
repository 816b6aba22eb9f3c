/**
 * The sentence a CLI prints for a command line `node:util` parseArgs refused: its first sentence only. Node
 * appends advice about `--` to an unknown option ("To specify a positional argument starting with a '-', place it
 * at the end of the command after '--', as in '-- \"--bogus\"") that reads as if the option were a file name; the
 * usage text printed after it says what the options are.
 */
export function parseArgsMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\. To specify a positional argument[\s\S]*$/, '');
}
