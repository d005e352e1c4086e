/** Draws noisy samples of one image and classifies them: the base classifier of a smoothed classifier. */
export interface Sampler {
  readonly classes: number;
  readonly inputSize: number;
  readonly sigma: number;
  /**
   * Class counts (and, when `record`, each sample's predicted class) over noise samples first .. first+count-1 of
   * image `imageIndex`. Noise is counter-based: a sample's noise depends only on (seed, imageIndex, sample number),
   * never on how samples are split into calls.
   */
  sample(image: Float32Array, imageIndex: number, first: number, count: number, record: boolean): Promise<{ counts: Uint32Array; predictions: Uint8Array | null }>;
  close(): Promise<void>;
}
