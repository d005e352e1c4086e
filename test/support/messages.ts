// The message of a check that is expected to throw, for tests that pin a command's error to the library's own text.

export function messageOf(check: () => unknown): string {
  try {
    check();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the check to throw');
}
