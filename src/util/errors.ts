/**
 * ArqError is every error arq raises on bad input (a file, an option, a policy, a dataset): its message is meant
 * for the user and the CLI prints it on one line without a stack.
 */
export class ArqError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ArqError';
  }
}
