/** The bench's progress lines: on stderr, so that stdout holds only the results. */
export const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
