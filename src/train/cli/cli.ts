// What the command-line tools share: user mistakes end with a message and an exit code, not a stack trace.

/** A mistake the user can fix (bad flag, unreadable or unsupported file): printed as is, exit 1. */
export class UserError extends Error {
  override name = 'UserError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** A bad command line: printed with the help text, exit 2. */
export class UsageError extends UserError {
  override name = 'UsageError';
  constructor(message: string) {
    super(message, 2);
  }
}

const isParseArgsError = (error: unknown): error is Error =>
  error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS');

let pipesHandled = false;

/**
 * Ends the process quietly when whoever reads its stdout or stderr goes away (`npm run train -- --help
 * | head -1`) instead of dying on an EPIPE stack trace; also stops any worker threads. Installed once.
 */
export function endQuietlyOnClosedPipe(): void {
  if (pipesHandled) return;
  pipesHandled = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    });
  }
}

/** Runs a tool's main function; prints user mistakes without a stack trace. */
export async function runCli(main: () => Promise<void>, help: string): Promise<void> {
  endQuietlyOnClosedPipe();
  try {
    await main();
  } catch (error) {
    if (error instanceof UsageError || isParseArgsError(error)) {
      console.error(`${error.message}\n\n${help}`);
      process.exitCode = 2;
    } else if (error instanceof UserError) {
      console.error(error.message);
      process.exitCode = error.exitCode;
    } else {
      throw error;
    }
  }
}

/** Reads a file the user named, turning "not found" and friends into a UserError. */
export async function readUserFile(file: string): Promise<Uint8Array> {
  const { readFile } = await import('node:fs/promises');
  try {
    return new Uint8Array(await readFile(file));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`${file}: no such file`);
    if (code === 'EISDIR') throw new UserError(`${file}: is a directory, expected a file`);
    if (code === 'EACCES') throw new UserError(`${file}: permission denied`);
    throw error;
  }
}
