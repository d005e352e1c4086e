/**
 * The verifier's targeted attack: projected gradient ascent (PGD, Madry et al. 2018) on a float surrogate of the
 * integer plan, the QAT net of the same model, policy and calibration (native/train/qat_net.h: its forward pass is
 * the engine's, its backward pass straight-through). Restart r ascends the margin logit[t_r] - logit[label] with
 * t_r the class ranked r + 2 on the clean image (restart 0 targets the runner-up), from the image itself (r = 0) or
 * a uniform point of the box; steps are sign-gradient steps of 2.5 eps / steps, each projected onto the box.
 * Every iterate of every restart is run through the real integer plan (IntPlan.run), and only the plan's arg-max
 * (lowest index on ties) decides: the surrogate proposes, the engine disposes.
 */
import { indexOfMax } from '../engine/classifier.js';
import type { IntPlan } from '../engine/int-plan.js';
import type { QatNet } from '../train/qat.js';
import { Random } from '../util/random.js';
import type { Box } from './box.js';

export const ATTACK_DEFAULTS = { restarts: 4, steps: 20 } as const;

export interface AttackSettings {
  /** Starting points, each with its own target class (at most classes - 1 targets; later restarts reuse them). */
  readonly restarts: number;
  /** Gradient steps per restart. */
  readonly steps: number;
  /** Radius of the box, which sets the step size (2.5 eps / steps). */
  readonly eps: number;
  /** Seed and stream of the random starting points (verify.ts gives each image and radius its own stream). */
  readonly seed: number;
  readonly stream?: number;
  readonly threads: number;
  /** performance.now() after which no further step starts. */
  readonly deadline?: number;
}

export interface AttackResult {
  /** An image inside the box that the integer plan does not classify as the label, or null. */
  readonly counterexample: Float32Array | null;
  /** The plan's class for the counterexample (-1 when none). */
  readonly prediction: number;
  /** Candidate images run through the plan. */
  readonly candidates: number;
}

/** Classes by the clean logits, highest first (ties: lowest index first), without the label. */
export function targetOrder(logits: ArrayLike<number>, label: number): number[] {
  const classes = Array.from({ length: logits.length }, (_, c) => c).filter((c) => c !== label);
  return classes.sort((a, b) => logits[b] - logits[a] || a - b);
}

/**
 * Searches the box for an input the plan misclassifies. `image` lies in the box and the plan classifies it as
 * `label`; `targets` is targetOrder() of its clean logits.
 */
export async function attack(
  surrogate: QatNet, plan: IntPlan, image: Float32Array, label: number, targets: readonly number[], box: Box, settings: AttackSettings,
): Promise<AttackResult> {
  const size = image.length;
  const restarts = settings.restarts;
  const random = Random.fromSeed(settings.seed, settings.stream);
  const x = new Float32Array(restarts * size);
  for (let r = 0; r < restarts; r++) {
    for (let i = 0; i < size; i++) x[r * size + i] = r === 0 ? image[i] : Math.min(box.hi[i], Math.max(box.lo[i], Math.fround(box.lo[i] + random.uniform() * (box.hi[i] - box.lo[i]))));
  }
  const labels = new Int32Array(restarts).fill(label);
  const targetOf = Int32Array.from({ length: restarts }, (_, r) => targets[r % targets.length]);
  const alpha = (2.5 * settings.eps) / settings.steps;
  let candidates = 0;
  for (let step = 0; ; step++) {
    const logits = await plan.run(x, restarts, settings.threads);
    candidates += restarts;
    for (let r = 0; r < restarts; r++) {
      const prediction = indexOfMax(logits, r * plan.classes, plan.classes);
      if (prediction !== label) return { counterexample: x.slice(r * size, (r + 1) * size), prediction, candidates };
    }
    if (step === settings.steps || (settings.deadline !== undefined && performance.now() >= settings.deadline)) break;
    const { gradient } = await surrogate.inputGradients({ input: x, labels, targets: targetOf, batch: restarts, threads: settings.threads });
    for (let e = 0; e < x.length; e++) {
      const i = e % size;
      const moved = Math.fround(x[e] + alpha * Math.sign(gradient[e]));
      x[e] = Math.min(box.hi[i], Math.max(box.lo[i], moved));
    }
  }
  return { counterexample: null, prediction: -1, candidates };
}
