/** What the fuzz harness (harness.ts) and its child process (child.ts) exchange: a job file in, report lines out. */

/** Prefix of the child's report lines on stdout (anything else there is the library's own output). */
export const FUZZ_LINE = '@@arq-fuzz ';

export type CaseKind = 'model' | 'idx' | 'npy';

export interface FuzzCase {
  /** Unique within a run; also the file-name stem of the case's inputs. */
  readonly id: string;
  readonly kind: CaseKind;
  /** A model case has `model`; a data case has `images` and `labels`. */
  readonly files: { readonly model?: string; readonly images?: string; readonly labels?: string };
  /** How the input was made (base file and mutations), for the corpus note. */
  readonly description: string;
}

export interface FuzzJob {
  /** The model data cases are run on (the MNIST CNN fixture). */
  readonly referenceModel: string;
  readonly cases: readonly FuzzCase[];
}

/** One line per step of a case (no outcome) and one final line with the outcome. */
export interface StepReport {
  readonly id: string;
  readonly stage: string;
  readonly outcome?: 'passed' | 'rejected';
  /** passed: something worth a look that is not a failure. */
  readonly note?: string;
  /** rejected: the error's name and message. */
  readonly error?: string;
  readonly message?: string;
}
